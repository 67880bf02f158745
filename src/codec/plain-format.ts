/**
 * The format of the fast path for plain data (plain-encode.ts writes it, plain-decode.ts reads
 * it), and what both sides share: the tags, the limits, Buffer's string codecs, and the
 * functions generated per object shape.
 *
 * The fast path for plain data: objects, arrays, strings, numbers, booleans,
 * null and undefined (and, structured, Dates), encoded by hand into bytes
 * and decoded into the very values the structured clone (or JSON) would give
 * — or refused, so the caller falls back to V8's serializer (or JSON) for
 * the whole value. Refused at the first value it cannot prove plain: a Map,
 * a typed array, a class instance, a Proxy, an array with holes or extra
 * properties, a key "__proto__", an object met twice (structured: the clone
 * would keep the identity), nesting deeper than MAX_DEPTH…
 *
 * Why: node:v8's serialize/deserialize wrap V8's serializer in JavaScript
 * classes (host-object hooks, a Buffer per call) and cost ≈ 19 + 27 µs for
 * 16 small objects; JSON.stringify/parse ≈ 9.5 + 12 µs. This codec builds
 * objects of one shape with one generated function (an object literal, the
 * fastest way V8 has to make an object) and reads them with named property
 * loads, which V8 inlines.
 *
 * Format (little-endian; every length read is checked against the payload's end):
 *   0 undefined  1 null  2 true  3 false
 *   4 int32 (4 bytes)     5 float64 (8 bytes)      11 Date: float64 time value
 *   6 latin1 string: u32 length, bytes            0x80 | n: latin1 string of n < 128 bytes
 *   7 UTF-16 string: u32 length (code units), 2·length bytes
 *   8 array: u32 length, the elements
 *   10 new shape: u32 key count, u32 byte length of the keys, the keys (strings, tagged), then an object of it
 *   9 object: u32 index of a shape this payload defined, then its values in the shape's order
 */
import { types } from 'node:util';

export const P_UNDEFINED = 0;
export const P_NULL = 1;
export const P_TRUE = 2;
export const P_FALSE = 3;
export const P_INT = 4;
export const P_F64 = 5;
export const P_STR8 = 6;
export const P_STR16 = 7;
export const P_ARRAY = 8;
export const P_OBJECT = 9;
export const P_SHAPE = 10;
export const P_DATE = 11;
export const P_SHORT = 0x80;

/** Deeper than this, the value is refused (and V8's serializer or JSON decides). */
export const MAX_DEPTH = 64;
/** Shapes with more keys than this are built key by key instead of by a generated function. */
export const MAX_GENERATED_KEYS = 64;
/** Generated functions kept per thread, per side (a cache of shapes seen). */
export const MAX_CACHED_SHAPES = 2048;
/** Objects tracked in an array (a scan) before a Set takes over: a scan of a few is cheaper than hashing. */
export const SCAN_SEEN = 32;

export const OBJECT_PROTO = Object.prototype;
export const ARRAY_PROTO = Array.prototype;
export const DATE_PROTO = Date.prototype;
export const getProto = Object.getPrototypeOf;
export const hasOwn = Object.hasOwn;
export const isProxy = types.isProxy;
export const fromCharCode = String.fromCharCode;

/** Buffer's own string codecs (what toString and write call inside), where the runtime has them: no argument parsing. */
interface BufferCodecs {
  latin1Slice(start: number, end: number): string;
  ucs2Slice(start: number, end: number): string;
  latin1Write(s: string, offset: number, length: number): number;
  ucs2Write(s: string, offset: number, length: number): number;
  utf8Write(s: string, offset: number, length: number): number;
}
export const direct = typeof (Buffer.prototype as unknown as Partial<BufferCodecs>).latin1Slice === 'function';
export const latin1Slice = direct
  ? (b: Buffer, s: number, e: number) => (b as unknown as BufferCodecs).latin1Slice(s, e)
  : (b: Buffer, s: number, e: number) => b.toString('latin1', s, e);
export const ucs2Slice = direct
  ? (b: Buffer, s: number, e: number) => (b as unknown as BufferCodecs).ucs2Slice(s, e)
  : (b: Buffer, s: number, e: number) => b.toString('utf16le', s, e);
export const latin1Write = direct
  ? (b: Buffer, str: string, at: number, n: number) => (b as unknown as BufferCodecs).latin1Write(str, at, n)
  : (b: Buffer, str: string, at: number, n: number) => b.write(str, at, n, 'latin1');
export const ucs2Write = direct
  ? (b: Buffer, str: string, at: number, n: number) => (b as unknown as BufferCodecs).ucs2Write(str, at, n)
  : (b: Buffer, str: string, at: number, n: number) => b.write(str, at, n, 'utf16le');
const utf8Write =
  typeof (Buffer.prototype as unknown as Partial<BufferCodecs>).utf8Write === 'function'
    ? (b: Buffer, str: string, at: number, n: number) => (b as unknown as BufferCodecs).utf8Write(str, at, n)
    : (b: Buffer, str: string, at: number, n: number) => b.write(str, at, n, 'utf8');

/** Bytes writeAscii() needs past the string's length: room for any one character in UTF-8. */
export const ASCII_ROOM = 4;

/**
 * Writes `s` at `at` as one byte a character (the bytes latin1Slice reads back) if every
 * character is ASCII, and says whether it was; `room` ≥ s.length + ASCII_ROOM bytes from `at` may
 * be overwritten either way. One pass, in which a cons string (what `a + b` makes) is flattened
 * once — where Buffer.byteLength first, then a write, walked a cons string twice.
 *
 * Why the count tells: UTF-8 writes an ASCII unit as the one byte latin1 would, and anything
 * else as more bytes than UTF-16 units (2 or 3 a unit; 4 for a surrogate pair; a lone surrogate
 * becomes U+FFFD, 3). The writer stops only before a character that does not fit, and any
 * character fits in ASCII_ROOM bytes: so it returns exactly s.length iff it wrote all of s as ASCII.
 */
export function writeAscii(b: Buffer, s: string, at: number, room: number): boolean {
  return utf8Write(b, s, at, room) === s.length;
}

/** Whether `new Function` works here (not under --disallow-code-generation-from-strings). */
let canGenerate = true;

/** What a generated writer calls for each value, in key order (the encoder). */
export interface MemberWriter {
  member(value: unknown, parent: object, key: string): boolean;
}

/** A shape as the encoder knows it: its keys (Object.keys order) and the function that writes an object's values. */
export interface EncodeShape {
  keys: string[];
  write: (o: Record<string, unknown>, e: MemberWriter) => boolean;
  /** The payload (encode() call) that last defined it, and its index in that payload. */
  payload: number;
  index: number;
}

/** Shapes an encoder or decoder remembers across payloads, most recent first: found by a short scan, no string built. */
export const RECENT_SHAPES = 16;

/** What a generated maker calls to read each value, in key order. */
export interface ValueReader {
  read(): unknown;
}
export type ShapeMaker = (d: ValueReader) => Record<string, unknown>;

const encodeShapes = new Map<string, EncodeShape['write']>();
const decodeShapes = new Map<string, ShapeMaker>();

/** The writer of a shape (cached per key list), or undefined for keys it must refuse. */
export function shapeWriter(keys: string[], json: boolean): EncodeShape['write'] | undefined {
  // JSON.stringify: unambiguous whatever the keys hold ([''] is not [], ['a\0b'] not ['a', 'b']).
  const id = (json ? 'j' : 's') + JSON.stringify(keys);
  let write = encodeShapes.get(id);
  if (write !== undefined) return write;
  for (const k of keys) {
    // "__proto__" would set the prototype in an object literal; toJSON changes what JSON gives.
    if (k === '__proto__' || (json && k === 'toJSON')) return undefined;
  }
  if (canGenerate && keys.length <= MAX_GENERATED_KEYS) {
    try {
      const body = keys.map((k) => `e.member(o[${JSON.stringify(k)}], o, ${JSON.stringify(k)})`).join(' && ');
      write = new Function('o', 'e', `return ${keys.length === 0 ? 'true' : body};`) as EncodeShape['write'];
    } catch {
      canGenerate = false; // code generation from strings is disallowed in this process
    }
  }
  write ??= (o, e) => {
    for (const k of keys) if (!e.member(o[k], o, k)) return false;
    return true;
  };
  if (encodeShapes.size >= MAX_CACHED_SHAPES) encodeShapes.clear();
  encodeShapes.set(id, write);
  return write;
}

/** The maker of objects of a shape (cached per key list). Refuses "__proto__" (the encoder never writes it). */
export function shapeMaker(keys: string[]): ShapeMaker {
  const id = JSON.stringify(keys);
  let make = decodeShapes.get(id);
  if (make !== undefined) return make;
  for (const k of keys) if (k === '__proto__') throw new RangeError('task arena is corrupted: a plain payload names the key "__proto__"');
  if (canGenerate && keys.length <= MAX_GENERATED_KEYS) {
    try {
      // An object literal: its properties are evaluated left to right, so d.read() runs in key order.
      const body = keys.map((k) => `${JSON.stringify(k)}: d.read()`).join(', ');
      make = new Function('d', `return { ${body} };`) as ShapeMaker;
    } catch {
      canGenerate = false;
    }
  }
  make ??= (d) => {
    const o: Record<string, unknown> = {};
    for (const k of keys) o[k] = d.read();
    return o;
  };
  if (decodeShapes.size >= MAX_CACHED_SHAPES) decodeShapes.clear();
  decodeShapes.set(id, make);
  return make;
}
