/**
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

const P_UNDEFINED = 0;
const P_NULL = 1;
const P_TRUE = 2;
const P_FALSE = 3;
const P_INT = 4;
const P_F64 = 5;
const P_STR8 = 6;
const P_STR16 = 7;
const P_ARRAY = 8;
const P_OBJECT = 9;
const P_SHAPE = 10;
const P_DATE = 11;
const P_SHORT = 0x80;

/** Deeper than this, the value is refused (and V8's serializer or JSON decides). */
const MAX_DEPTH = 64;
/** Shapes with more keys than this are built key by key instead of by a generated function. */
const MAX_GENERATED_KEYS = 64;
/** Generated functions kept per thread, per side (a cache of shapes seen). */
const MAX_CACHED_SHAPES = 2048;
/** Objects tracked in an array (a scan) before a Set takes over: a scan of a few is cheaper than hashing. */
const SCAN_SEEN = 32;

const OBJECT_PROTO = Object.prototype;
const ARRAY_PROTO = Array.prototype;
const DATE_PROTO = Date.prototype;
const getProto = Object.getPrototypeOf;
const hasOwn = Object.hasOwn;
const isProxy = types.isProxy;
const fromCharCode = String.fromCharCode;

/** Buffer's own string codecs (what toString and write call inside), where the runtime has them: no argument parsing. */
interface BufferCodecs {
  latin1Slice(start: number, end: number): string;
  ucs2Slice(start: number, end: number): string;
  latin1Write(s: string, offset: number, length: number): number;
  ucs2Write(s: string, offset: number, length: number): number;
}
const direct = typeof (Buffer.prototype as unknown as Partial<BufferCodecs>).latin1Slice === 'function';
const latin1Slice = direct
  ? (b: Buffer, s: number, e: number) => (b as unknown as BufferCodecs).latin1Slice(s, e)
  : (b: Buffer, s: number, e: number) => b.toString('latin1', s, e);
const ucs2Slice = direct
  ? (b: Buffer, s: number, e: number) => (b as unknown as BufferCodecs).ucs2Slice(s, e)
  : (b: Buffer, s: number, e: number) => b.toString('utf16le', s, e);
const latin1Write = direct
  ? (b: Buffer, str: string, at: number, n: number) => (b as unknown as BufferCodecs).latin1Write(str, at, n)
  : (b: Buffer, str: string, at: number, n: number) => b.write(str, at, n, 'latin1');
const ucs2Write = direct
  ? (b: Buffer, str: string, at: number, n: number) => (b as unknown as BufferCodecs).ucs2Write(str, at, n)
  : (b: Buffer, str: string, at: number, n: number) => b.write(str, at, n, 'utf16le');

/** Whether `new Function` works here (not under --disallow-code-generation-from-strings). */
let canGenerate = true;

/** A shape as the encoder knows it: its keys (Object.keys order) and the function that writes an object's values. */
interface EncodeShape {
  keys: string[];
  write: (o: Record<string, unknown>, e: PlainEncoder) => boolean;
  /** The payload (encode() call) that last defined it, and its index in that payload. */
  payload: number;
  index: number;
}

/** Shapes an encoder or decoder remembers across payloads, most recent first: found by a short scan, no string built. */
const RECENT_SHAPES = 16;

const encodeShapes = new Map<string, EncodeShape['write']>();
const decodeShapes = new Map<string, (d: PlainDecoder) => Record<string, unknown>>();

export class PlainEncoder {
  /** The encoded bytes: [0, length) after a successful encode(). */
  bytes: Uint8Array;
  #dv: DataView;
  #buf: Buffer;
  #p = 0;
  #depth = 0;
  readonly #json: boolean;
  #seen: object[] = [];
  #seenSet: Set<object> | undefined;
  /** Shapes met recently (see RECENT_SHAPES); the one met last; payloads so far; shapes the current one defined. */
  readonly #recent: EncodeShape[] = [];
  #last: EncodeShape | undefined;
  #payload = 0;
  #defined = 0;

  /** `json`: give what JSON.stringify + JSON.parse would (no identity kept, Dates refused, non-finite numbers null). */
  constructor(json: boolean) {
    this.#json = json;
    this.bytes = new Uint8Array(4096);
    this.#dv = new DataView(this.bytes.buffer);
    this.#buf = Buffer.from(this.bytes.buffer);
  }

  /** Encodes value; returns its byte length, or -1 when it is not plain data (nothing to use then). */
  encode(value: unknown): number {
    this.#p = 0;
    this.#depth = 0;
    this.#payload++;
    this.#defined = 0;
    let ok: boolean;
    try {
      ok = this.value(value);
    } finally {
      this.#seen.length = 0;
      this.#seenSet = undefined;
    }
    return ok ? this.#p : -1;
  }

  /** Writes one value; false: not plain. Public for the generated shape writers. */
  value(v: unknown): boolean {
    switch (typeof v) {
      case 'string':
        this.#string(v);
        return true;
      case 'number':
        this.#number(v);
        return true;
      case 'boolean':
        this.#byte(v ? P_TRUE : P_FALSE);
        return true;
      case 'undefined':
        // JSON: undefined in an array is null (a property of undefined is refused in member()).
        this.#byte(this.#json ? P_NULL : P_UNDEFINED);
        return true;
      case 'object':
        if (v === null) {
          this.#byte(P_NULL);
          return true;
        }
        return this.#object(v);
      default:
        return false; // bigint, symbol, function
    }
  }

  /** A property value read from object o under key k (generated writers call this). */
  member(v: unknown, o: object, k: string): boolean {
    // A getter may have deleted the property since its keys were taken: the clone would skip it.
    // JSON drops properties whose value is undefined: a different shape, so not here.
    if (v === undefined && (this.#json || !hasOwn(o, k))) return false;
    return this.value(v);
  }

  #object(v: object): boolean {
    if (isProxy(v)) return false;
    const proto = getProto(v);
    if (proto === OBJECT_PROTO) return this.#enter(v) && this.#plainObject(v as Record<string, unknown>);
    if (proto === ARRAY_PROTO && Array.isArray(v)) return this.#enter(v) && this.#array(v);
    if (proto === DATE_PROTO && !this.#json && types.isDate(v) && this.#enter(v)) {
      this.#byte(P_DATE);
      this.#f64((v as Date).getTime());
      return true;
    }
    return false;
  }

  /** Depth and identity: structured clone keeps an object met twice as one object (and cycles), so refuse them. */
  #enter(v: object): boolean {
    if (this.#depth >= MAX_DEPTH) return false;
    if (this.#json) return true; // JSON copies repeats; a cycle ends at MAX_DEPTH and JSON.stringify throws
    const set = this.#seenSet;
    if (set !== undefined) {
      if (set.has(v)) return false;
      set.add(v);
      return true;
    }
    const seen = this.#seen;
    for (let i = 0; i < seen.length; i++) if (seen[i] === v) return false;
    seen.push(v);
    if (seen.length > SCAN_SEEN) this.#seenSet = new Set(seen);
    return true;
  }

  #plainObject(o: Record<string, unknown>): boolean {
    let shape = this.#last;
    if (shape === undefined || !hasKeys(o, shape.keys)) {
      shape = this.#shape(Object.keys(o));
      if (shape === undefined) return false;
      this.#last = shape;
    }
    const keys = shape.keys;
    if (shape.payload !== this.#payload) {
      // First object of this shape in this payload: define it (the keys, and how many bytes they take).
      shape.payload = this.#payload;
      shape.index = this.#defined++;
      this.#byte(P_SHAPE);
      this.#u32(keys.length);
      const lengthAt = this.#p;
      this.#u32(0);
      for (let i = 0; i < keys.length; i++) this.#string(keys[i]!);
      this.#dv.setUint32(lengthAt, this.#p - lengthAt - 4, true);
    } else {
      this.#byte(P_OBJECT);
      this.#u32(shape.index);
    }
    this.#depth++;
    const ok = shape.write(o, this);
    this.#depth--;
    return ok;
  }

  /** The shape of these keys: a recent one (same key strings), or a new one; undefined for keys it refuses. */
  #shape(keys: string[]): EncodeShape | undefined {
    const recent = this.#recent;
    for (let i = 0; i < recent.length; i++) {
      const shape = recent[i]!;
      if (sameKeys(shape.keys, keys)) return shape;
    }
    const write = shapeWriter(keys, this.#json);
    if (write === undefined) return undefined;
    const shape: EncodeShape = { keys, write, payload: 0, index: 0 };
    recent.unshift(shape);
    if (recent.length > RECENT_SHAPES) recent.pop();
    return shape;
  }

  #array(a: unknown[]): boolean {
    const n = a.length;
    // Named properties on an array (a RegExp match's index, input…) travel with a structured
    // clone: refuse those (the count of own keys says). JSON ignores them.
    if (!this.#json && n < 0x7fffffff && Object.keys(a).length !== n) return false;
    this.#byte(P_ARRAY);
    this.#u32(n);
    this.#depth++;
    for (let i = 0; i < n; i++) {
      const v = a[i];
      // A hole: the clone keeps it (refuse); JSON gives null (what value() writes).
      if (v === undefined && !this.#json && !(i in a)) return false;
      if (!this.value(v)) return false;
    }
    this.#depth--;
    return true;
  }

  #number(v: number): void {
    if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
      this.#ensure(5);
      this.bytes[this.#p] = P_INT;
      this.#dv.setInt32(this.#p + 1, v, true);
      this.#p += 5;
    } else if (this.#json && (v === 0 || !Number.isFinite(v))) {
      this.#byte(v === 0 ? P_INT : P_NULL); // JSON: -0 is 0, NaN and ±Infinity are null
      if (v === 0) this.#i32(0);
    } else {
      this.#byte(P_F64);
      this.#f64(v);
    }
  }

  #string(s: string): void {
    const n = s.length;
    if (n < 128) {
      this.#ensure(1 + 2 * n);
      const b = this.bytes;
      const start = this.#p;
      let p = start + 1;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 255) {
          this.#p = start;
          this.#utf16(s);
          return;
        }
        b[p++] = c;
      }
      b[start] = P_SHORT | n;
      this.#p = p;
      return;
    }
    // Long: one pass in C++ tells ASCII (one byte a character) from the rest.
    if (Buffer.byteLength(s, 'utf8') === n) {
      this.#ensure(5 + n);
      this.bytes[this.#p] = P_STR8;
      this.#dv.setUint32(this.#p + 1, n, true);
      latin1Write(this.#buf, s, this.#p + 5, n);
      this.#p += 5 + n;
    } else {
      this.#utf16(s);
    }
  }

  #utf16(s: string): void {
    const n = s.length;
    this.#ensure(5 + 2 * n);
    this.bytes[this.#p] = P_STR16;
    this.#dv.setUint32(this.#p + 1, n, true);
    ucs2Write(this.#buf, s, this.#p + 5, 2 * n);
    this.#p += 5 + 2 * n;
  }

  #byte(b: number): void {
    this.#ensure(1);
    this.bytes[this.#p++] = b;
  }

  #u32(n: number): void {
    this.#ensure(4);
    this.#dv.setUint32(this.#p, n, true);
    this.#p += 4;
  }

  #i32(n: number): void {
    this.#ensure(4);
    this.#dv.setInt32(this.#p, n, true);
    this.#p += 4;
  }

  #f64(v: number): void {
    this.#ensure(8);
    this.#dv.setFloat64(this.#p, v, true);
    this.#p += 8;
  }

  #ensure(n: number): void {
    if (this.#p + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(2 * this.bytes.length, this.#p + n));
    grown.set(this.bytes.subarray(0, this.#p));
    this.bytes = grown;
    this.#dv = new DataView(grown.buffer);
    this.#buf = Buffer.from(grown.buffer);
  }
}

/**
 * Whether o's own enumerable keys are exactly `keys`, in order — without building the array
 * Object.keys would (for-in walks V8's enum cache). for-in also walks the prototype's enumerable
 * keys, after the own ones: one more key than expected is then a mismatch, and Object.keys decides.
 */
function hasKeys(o: object, keys: string[]): boolean {
  let i = 0;
  const n = keys.length;
  for (const k in o) {
    if (i === n || k !== keys[i]) return false;
    i++;
  }
  return i === n;
}

function sameKeys(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The writer of a shape (cached per key list), or undefined for keys it must refuse. */
function shapeWriter(keys: string[], json: boolean): EncodeShape['write'] | undefined {
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
function shapeMaker(keys: string[]): (d: PlainDecoder) => Record<string, unknown> {
  const id = JSON.stringify(keys);
  let make = decodeShapes.get(id);
  if (make !== undefined) return make;
  for (const k of keys) if (k === '__proto__') throw new RangeError('task arena is corrupted: a plain payload names the key "__proto__"');
  if (canGenerate && keys.length <= MAX_GENERATED_KEYS) {
    try {
      // An object literal: its properties are evaluated left to right, so d.read() runs in key order.
      const body = keys.map((k) => `${JSON.stringify(k)}: d.read()`).join(', ');
      make = new Function('d', `return { ${body} };`) as (d: PlainDecoder) => Record<string, unknown>;
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

export class PlainDecoder {
  #u8: Uint8Array = new Uint8Array(0);
  #dv: DataView = new DataView(new ArrayBuffer(0));
  #buf: Buffer = Buffer.alloc(0);
  #p = 0;
  #end = 0;
  #shapes: ((d: PlainDecoder) => Record<string, unknown>)[] = [];
  /** Shape definitions met recently, by their bytes (see RECENT_SHAPES): a match skips decoding the keys. */
  readonly #recent: { bytes: Uint8Array; make: (d: PlainDecoder) => Record<string, unknown> }[] = [];

  /**
   * Reads the value at [start, end) of the memory the three views share (u8, dv and buf all
   * over the same buffer, from its start). Throws a RangeError if the bytes are not a payload.
   */
  decode(u8: Uint8Array, dv: DataView, buf: Buffer, start: number, end: number): unknown {
    if (!(start >= 0 && start <= end && end <= u8.length)) throw new RangeError(`task arena is corrupted: plain payload [${start}, ${end})`);
    this.#u8 = u8;
    this.#dv = dv;
    this.#buf = buf;
    this.#p = start;
    this.#end = end;
    this.#shapes.length = 0;
    const value = this.read();
    if (this.#p !== end) throw new RangeError(`task arena is corrupted: plain payload ends at ${this.#p}, not ${end}`);
    return value;
  }

  /** Reads one value (public for the generated shape makers). */
  read(): unknown {
    const tag = this.#u8[this.#take(1)]!;
    if (tag >= P_SHORT) return this.#latin1(tag & 0x7f);
    switch (tag) {
      case P_INT:
        return this.#dv.getInt32(this.#take(4), true);
      case P_F64:
        return this.#dv.getFloat64(this.#take(8), true);
      case P_OBJECT: {
        const index = this.#dv.getUint32(this.#take(4), true);
        const make = this.#shapes[index];
        if (make === undefined) throw new RangeError(`task arena is corrupted: plain payload names shape ${index} of ${this.#shapes.length}`);
        return make(this);
      }
      case P_SHAPE: {
        const make = this.#shape();
        this.#shapes.push(make);
        return make(this);
      }
      case P_ARRAY: {
        const n = this.#length(1);
        const a = new Array(n);
        for (let i = 0; i < n; i++) a[i] = this.read();
        return a;
      }
      case P_TRUE:
        return true;
      case P_FALSE:
        return false;
      case P_NULL:
        return null;
      case P_UNDEFINED:
        return undefined;
      case P_STR8:
        return this.#latin1(this.#length(1));
      case P_STR16: {
        const n = this.#length(2);
        const at = this.#take(2 * n);
        return ucs2Slice(this.#buf, at, at + 2 * n);
      }
      case P_DATE:
        return new Date(this.#dv.getFloat64(this.#take(8), true));
      default:
        throw new RangeError(`task arena is corrupted: plain payload tag ${tag}`);
    }
  }

  /** A shape definition: its key count, the byte length of its keys, the keys. */
  #shape(): (d: PlainDecoder) => Record<string, unknown> {
    const n = this.#length(1);
    const size = this.#length(1);
    const start = this.#p;
    const end = start + size;
    const u8 = this.#u8;
    const recent = this.#recent;
    for (let i = 0; i < recent.length; i++) {
      const known = recent[i]!;
      const bytes = known.bytes;
      if (bytes.length !== size) continue;
      let k = 0;
      while (k < size && bytes[k] === u8[start + k]) k++;
      if (k === size) {
        this.#p = end;
        return known.make;
      }
    }
    const keys: string[] = [];
    for (let i = 0; i < n; i++) {
      const key = this.read();
      if (typeof key !== 'string') throw new RangeError('task arena is corrupted: a plain shape has a key that is not a string');
      keys.push(key);
    }
    if (this.#p !== end) throw new RangeError('task arena is corrupted: a plain shape is not as long as it says');
    const make = shapeMaker(keys);
    recent.unshift({ bytes: u8.slice(start, end), make });
    if (recent.length > RECENT_SHAPES) recent.pop();
    return make;
  }

  #latin1(n: number): string {
    const at = this.#take(n);
    const u8 = this.#u8;
    // Short strings: fromCharCode with fixed arity beats any call into C++ (≈ 3× here).
    switch (n) {
      case 0:
        return '';
      case 1:
        return fromCharCode(u8[at]!);
      case 2:
        return fromCharCode(u8[at]!, u8[at + 1]!);
      case 3:
        return fromCharCode(u8[at]!, u8[at + 1]!, u8[at + 2]!);
      case 4:
        return fromCharCode(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!);
      case 5:
        return fromCharCode(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!);
      case 6:
        return fromCharCode(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!, u8[at + 5]!);
      case 7:
        return fromCharCode(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!, u8[at + 5]!, u8[at + 6]!);
      case 8:
        return fromCharCode(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!, u8[at + 5]!, u8[at + 6]!, u8[at + 7]!);
      case 9:
        return fromCharCode(u8[at]!, u8[at + 1]!, u8[at + 2]!, u8[at + 3]!, u8[at + 4]!, u8[at + 5]!, u8[at + 6]!, u8[at + 7]!, u8[at + 8]!);
      case 10:
        return fromCharCode(
          u8[at]!,
          u8[at + 1]!,
          u8[at + 2]!,
          u8[at + 3]!,
          u8[at + 4]!,
          u8[at + 5]!,
          u8[at + 6]!,
          u8[at + 7]!,
          u8[at + 8]!,
          u8[at + 9]!,
        );
      case 11:
        return fromCharCode(
          u8[at]!,
          u8[at + 1]!,
          u8[at + 2]!,
          u8[at + 3]!,
          u8[at + 4]!,
          u8[at + 5]!,
          u8[at + 6]!,
          u8[at + 7]!,
          u8[at + 8]!,
          u8[at + 9]!,
          u8[at + 10]!,
        );
      case 12:
        return fromCharCode(
          u8[at]!,
          u8[at + 1]!,
          u8[at + 2]!,
          u8[at + 3]!,
          u8[at + 4]!,
          u8[at + 5]!,
          u8[at + 6]!,
          u8[at + 7]!,
          u8[at + 8]!,
          u8[at + 9]!,
          u8[at + 10]!,
          u8[at + 11]!,
        );
      default:
        return latin1Slice(this.#buf, at, at + n);
    }
  }

  /** A u32 count of units of `unit` bytes that must fit before the end. */
  #length(unit: number): number {
    const n = this.#dv.getUint32(this.#take(4), true);
    if (this.#p + n * unit > this.#end) throw new RangeError(`task arena is corrupted: plain payload length ${n} past its end`);
    return n;
  }

  /** Advances past n bytes, checked against the payload's end; returns where they start. */
  #take(n: number): number {
    const at = this.#p;
    if (at + n > this.#end) throw new RangeError('task arena is corrupted: plain payload cut short');
    this.#p = at + n;
    return at;
  }
}
