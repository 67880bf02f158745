/**
 * Errors across threads: what a handler throws becomes a plain, cloneable
 * record in its thread and an Error of the same type again in the caller's.
 * And the DataCloneError a value that cannot cross is reported with.
 */
import { serialize } from 'node:v8';

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

/** What crosses the thread boundary for an error: a plain, cloneable object. */
export interface ErrorRecord {
  __iocpError: true;
  name: string;
  message: string;
  stack: string | undefined;
  props: Record<string, unknown> | undefined;
}

/** Turns anything thrown into a cloneable record that keeps name, message, stack and own properties. */
export function errorToRecord(error: unknown): ErrorRecord | unknown {
  if (!(error instanceof Error)) return error;
  let props: Record<string, unknown> | undefined;
  for (const key of Object.keys(error)) {
    if (key === 'name' || key === 'message' || key === 'stack') continue;
    (props ??= {})[key] = (error as unknown as Record<string, unknown>)[key];
  }
  if ('cause' in error && error.cause !== undefined) (props ??= {}).cause = errorToRecord(error.cause);
  const record: ErrorRecord = { __iocpError: true, name: error.name, message: error.message, stack: error.stack, props };
  if (props !== undefined) {
    try {
      serialize(props);
    } catch {
      record.props = undefined; // uncloneable extras are dropped; name, message and stack survive
    }
  }
  return record;
}

export function isErrorRecord(value: unknown): value is ErrorRecord {
  return value !== null && typeof value === 'object' && (value as ErrorRecord).__iocpError === true;
}

/** Rebuilds an Error from a record (anything else thrown is returned as is). */
export function recordToError(value: unknown): unknown {
  if (!isErrorRecord(value)) return value;
  const Ctor = ERROR_TYPES[value.name] ?? Error;
  const error = new Ctor(value.message);
  if (error.name !== value.name) {
    Object.defineProperty(error, 'name', { value: value.name, configurable: true, writable: true, enumerable: false });
  }
  if (value.stack !== undefined) {
    Object.defineProperty(error, 'stack', { value: value.stack, configurable: true, writable: true, enumerable: false });
  }
  if (value.props !== undefined) {
    for (const [key, v] of Object.entries(value.props)) {
      (error as unknown as Record<string, unknown>)[key] = key === 'cause' ? recordToError(v) : v;
    }
  }
  return error;
}
