/**
 * Errors across threads: what a handler throws becomes a plain, cloneable
 * record in its thread and an Error of the same type again in the caller's.
 * And the DataCloneError a value that cannot cross is reported with.
 *
 * A record is only ever read where the protocol says a value was thrown (a
 * result slot's status, a message's `ok: false`), and whatever was thrown is
 * wrapped: `{ error }` for an Error, `{ value }` for anything else. So no
 * value a handler returns or throws is ever mistaken for a record, whatever
 * properties it has.
 *
 * Recording never throws: an error whose name, message or stack cannot be
 * read, whose property getter throws, or whose property cannot be cloned is
 * recorded with what could be read, and the rebuilt error lists what was not
 * sent in `notSent`. A cycle in the `cause` chain is kept.
 */

/** A DataCloneError that says what could not be cloned (v8.serialize's own message names only the value). */
export function cloneError(what: string, error: unknown): unknown {
  if (!(error instanceof Error) || !/could not be cloned/.test(error.message)) return error;
  const wrapped = new DOMException(`${what} could not be cloned: ${error.message}`, 'DataCloneError');
  Object.defineProperty(wrapped, 'cause', { value: error, configurable: true, writable: true });
  return wrapped;
}

/** The standard error constructors, so a TypeError thrown in a worker is a TypeError here. */
const ERROR_TYPES: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** An Error as it crosses: plain strings and cloneable properties. */
export interface ErrorFields {
  name: string;
  message: string;
  stack: string | undefined;
  /** Own enumerable properties, and `cause` (a ThrownRecord). */
  props: Record<string, unknown> | undefined;
  /** What could not be read or cloned, one line each. */
  notSent: string[] | undefined;
  /** It was a DOMException (a DataCloneError, an AbortError…): rebuilt as one, with its `code`. */
  dom?: true;
}

/** What crosses the thread boundary for anything thrown; `ref`: the error at that depth of the cause chain (a cycle). */
export type ThrownRecord = { error: ErrorFields } | { value: unknown } | { ref: number };

/** Turns anything thrown into a cloneable record that keeps name, message, stack and own properties. Never throws. */
export function errorToRecord(thrown: unknown): ThrownRecord {
  return record(thrown, []);
}

/** Errors recorded down a cause chain, at most (recording is recursive). */
const MAX_CAUSES = 100;

function record(thrown: unknown, chain: unknown[]): ThrownRecord {
  let isError: boolean;
  try {
    isError = thrown instanceof Error; // a Proxy's getPrototypeOf trap may throw
  } catch {
    isError = false;
  }
  if (!isError) return { value: thrown };
  const error = thrown as Error & Record<string, unknown>;
  const depth = chain.indexOf(error);
  if (depth >= 0) return { ref: depth };
  chain.push(error);
  const notSent: string[] = [];
  const read = (key: string): unknown => {
    try {
      return error[key];
    } catch (why) {
      notSent.push(`${key}: reading it threw (${describe(why)})`);
      return undefined;
    }
  };
  const name = text(read('name'), 'name', notSent) ?? typeName(error);
  const message = text(read('message'), 'message', notSent) ?? '';
  const stack = text(read('stack'), 'stack', notSent);
  let props: Record<string, unknown> | undefined;
  let keys: string[] = [];
  try {
    keys = Object.keys(error);
  } catch (why) {
    notSent.push(`its own properties: listing them threw (${describe(why)})`);
  }
  for (const key of keys) {
    if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue;
    const before = notSent.length;
    const value = read(key);
    if (notSent.length === before) (props ??= {})[key] = value;
  }
  let hasCause = false;
  try {
    hasCause = 'cause' in error;
  } catch (why) {
    notSent.push(`cause: looking for it threw (${describe(why)})`);
  }
  if (hasCause) {
    const cause = read('cause');
    if (cause === undefined) {
      // Nothing to send (as before: an undefined cause is left out).
    } else if (chain.length >= MAX_CAUSES) {
      notSent.push(`cause: the chain of causes is longer than ${MAX_CAUSES}`);
    } else {
      (props ??= {}).cause = record(cause, chain);
    }
  }
  if (props !== undefined) props = cloneable(props, notSent);
  const fields: ErrorFields = { name, message, stack, props, notSent: notSent.length === 0 ? undefined : notSent };
  if (isDomException(error)) fields.dom = true;
  return { error: fields };
}

/** props, less the properties that cannot be cloned (each noted). */
function cloneable(props: Record<string, unknown>, notSent: string[]): Record<string, unknown> | undefined {
  try {
    // The test the MessagePort fallback would apply: what it can clone, the pool can send.
    structuredClone(props);
    return props;
  } catch {
    // Find the culprits below.
  }
  let kept: Record<string, unknown> | undefined;
  for (const key of Object.keys(props)) {
    try {
      structuredClone(props[key]);
      (kept ??= {})[key] = props[key];
    } catch (why) {
      notSent.push(`${key}: it could not be cloned (${describe(why)})`);
    }
  }
  return kept;
}

/** A string field as a string; undefined (noted) when it is none and cannot be made one. */
function text(value: unknown, key: string, notSent: string[]): string | undefined {
  if (typeof value === 'string' || value === undefined) return value as string | undefined;
  try {
    return String(value);
  } catch (why) {
    notSent.push(`${key}: it is not a string and converting it threw (${describe(why)})`);
    return undefined;
  }
}

/** Whether `error` is a DOMException (a Proxy whose getPrototypeOf throws is not). */
function isDomException(error: Error): boolean {
  try {
    return error instanceof DOMException;
  } catch {
    return false;
  }
}

/** The name of the standard error type an error is an instance of (its own name could not be read). */
function typeName(error: Error): string {
  try {
    for (const key of Object.keys(ERROR_TYPES)) {
      if (key !== 'Error' && error instanceof ERROR_TYPES[key]!) return key;
    }
  } catch {
    // A Proxy whose getPrototypeOf throws: no type to find.
  }
  return 'Error';
}

/** A short description of why something failed, that cannot itself throw. */
function describe(why: unknown): string {
  try {
    return why instanceof Error ? `${why.name}: ${why.message}` : String(why);
  } catch {
    return 'an unprintable value';
  }
}

/** Rebuilds what was thrown from its record: an Error of the same type, or the value itself. */
export function recordToError(thrown: ThrownRecord): unknown {
  return rebuild(thrown, []);
}

function rebuild(thrown: ThrownRecord, chain: Error[]): unknown {
  if ('value' in thrown) return thrown.value;
  if ('ref' in thrown) return chain[thrown.ref];
  const fields = thrown.error;
  // A DOMException is one again (DataCloneError's code 25 with it): whichever thread raised it,
  // the caller sees the same kind of error.
  const error = fields.dom === true ? new DOMException(fields.message, fields.name) : new (ERROR_TYPES[fields.name] ?? Error)(fields.message);
  chain.push(error);
  if (error.name !== fields.name) {
    Object.defineProperty(error, 'name', { value: fields.name, configurable: true, writable: true, enumerable: false });
  }
  if (fields.stack !== undefined) {
    Object.defineProperty(error, 'stack', { value: fields.stack, configurable: true, writable: true, enumerable: false });
  }
  if (fields.props !== undefined) {
    for (const [key, v] of Object.entries(fields.props)) {
      (error as unknown as Record<string, unknown>)[key] = key === 'cause' ? rebuild(v as ThrownRecord, chain) : v;
    }
  }
  if (fields.notSent !== undefined) (error as Error & { notSent: string[] }).notSent = fields.notSent;
  return error;
}
