/**
 * Values in arena slots: the shared-memory half of the task path.
 *
 * Numbers, booleans, null/undefined and short strings are written directly
 * (no allocation on either side but the string itself); anything else goes
 * through v8.serialize — the structured clone that postMessage would have
 * done, minus the message. A value whose encoding does not fit the slot's
 * payload area is reported as TAG_FALLBACK: the caller sends it through a
 * MessagePort instead (so does every value with a transferList).
 *
 * Payload encodings (T_TAG, T_LEN, bytes at PAYLOAD):
 *   TAG_UNDEFINED/NULL/TRUE/FALSE  nothing
 *   TAG_NUMBER                     one float64
 *   TAG_STRING                     T_LEN UTF-16 code units
 *   TAG_SERIAL                     T_LEN bytes of v8.serialize output
 *   TAG_FALLBACK                   nothing here: the value travels by MessagePort
 */
import { serialize } from 'node:v8';
import { HeapDeserializer } from './heap-serializer.js';
import { PAYLOAD, T_LEN, T_TAG } from './layout.js';

export const TAG_UNDEFINED = 0;
export const TAG_NULL = 1;
export const TAG_TRUE = 2;
export const TAG_FALSE = 3;
export const TAG_NUMBER = 4;
export const TAG_STRING = 5;
export const TAG_SERIAL = 6;
export const TAG_FALLBACK = 7;

const utf16 = new TextDecoder('utf-16le');

/** Typed views over one arena plus its geometry: what encode/decode need. */
export class ArenaViews {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  /** Payload capacity of a slot, in bytes. */
  readonly capacity: number;

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly slots: number,
    readonly slotBytes: number,
  ) {
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.u16 = new Uint16Array(buffer);
    this.capacity = slotBytes - PAYLOAD;
  }

  /**
   * Writes value into the slot whose first word is w and returns its tag;
   * TAG_FALLBACK (nothing written) when it does not fit. Throws what
   * v8.serialize throws for a value that cannot be cloned (a function…).
   */
  encode(w: number, value: unknown): number {
    const i32 = this.i32;
    let tag: number;
    switch (typeof value) {
      case 'number':
        // Payload is 8-aligned: slots start on 64-byte lines and PAYLOAD = 40.
        this.f64[((w << 2) + PAYLOAD) >> 3] = value;
        tag = TAG_NUMBER;
        break;
      case 'string': {
        const n = value.length;
        if (n * 2 > this.capacity) return TAG_FALLBACK;
        const u16 = this.u16;
        const base = ((w << 2) + PAYLOAD) >> 1;
        for (let i = 0; i < n; i++) u16[base + i] = value.charCodeAt(i);
        i32[w + T_LEN] = n;
        tag = TAG_STRING;
        break;
      }
      case 'undefined':
        tag = TAG_UNDEFINED;
        break;
      case 'boolean':
        tag = value ? TAG_TRUE : TAG_FALSE;
        break;
      default: {
        if (value === null) {
          tag = TAG_NULL;
          break;
        }
        const bytes = serialize(value);
        if (bytes.length > this.capacity) return TAG_FALLBACK;
        this.u8.set(bytes, (w << 2) + PAYLOAD);
        i32[w + T_LEN] = bytes.length;
        tag = TAG_SERIAL;
      }
    }
    i32[w + T_TAG] = tag;
    return tag;
  }

  /** Reads the value in the slot whose first word is w. Lengths are bounds-checked (A4). */
  decode(w: number): unknown {
    return this.decodeTag(w, this.i32[w + T_TAG]!);
  }

  /** decode() of a slot whose tag was read already. */
  protected decodeTag(w: number, tag: number): unknown {
    const i32 = this.i32;
    switch (tag) {
      case TAG_NUMBER: {
        const value = this.f64[((w << 2) + PAYLOAD) >> 3]!;
        // A Float64Array read yields a heap double even for 27. Handed to the
        // user's code as is, it trains their functions on doubles: a recursive
        // fib(27) ran 1.6× slower (double arithmetic, every result boxed)
        // than with the small integer postMessage would have delivered.
        // `value | 0` gives V8 its small-integer form; -0 stays a double.
        const int = value | 0;
        return int === value && (int !== 0 || 1 / value > 0) ? int : value;
      }
      case TAG_STRING: {
        const n = this.#length(i32[w + T_LEN]!, 2);
        const start = (w << 2) + PAYLOAD;
        // Short strings: a loop beats creating a view for TextDecoder.
        if (n <= 16) {
          const u16 = this.u16;
          const base = start >> 1;
          let s = '';
          for (let i = 0; i < n; i++) s += String.fromCharCode(u16[base + i]!);
          return s;
        }
        return utf16.decode(new Uint16Array(this.buffer, start, n));
      }
      case TAG_UNDEFINED:
        return undefined;
      case TAG_NULL:
        return null;
      case TAG_TRUE:
        return true;
      case TAG_FALSE:
        return false;
      case TAG_SERIAL: {
        const n = this.#length(i32[w + T_LEN]!, 1);
        const start = (w << 2) + PAYLOAD;
        // Not v8.deserialize: it returns typed arrays as views into the memory
        // it reads — here the slot, overwritten by the next task.
        const d = new HeapDeserializer(this.u8.subarray(start, start + n), undefined);
        d.readHeader();
        return d.readValue();
      }
      default:
        throw new RangeError(`task arena is corrupted: slot tag ${tag}`);
    }
  }

  #length(n: number, unit: number): number {
    if (n >>> 0 !== n || n * unit > this.capacity) throw new RangeError(`task arena is corrupted: payload length ${n}`);
    return n;
  }
}

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
