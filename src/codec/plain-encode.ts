/**
 * The plain-data encoder (format and rules in plain-format.ts): writes a value into its own
 * growing buffer, or refuses it (-1) at the first value it cannot prove plain.
 */
import {
  ARRAY_PROTO,
  DATE_PROTO,
  type EncodeShape,
  getProto,
  hasOwn,
  isProxy,
  ASCII_ROOM,
  MAX_DEPTH,
  OBJECT_PROTO,
  P_ARRAY,
  P_DATE,
  P_F64,
  P_FALSE,
  P_INT,
  P_NULL,
  P_OBJECT,
  P_SHAPE,
  P_SHORT,
  P_STR16,
  P_STR8,
  P_TRUE,
  P_UNDEFINED,
  RECENT_SHAPES,
  SCAN_SEEN,
  shapeWriter,
  ucs2Write,
  writeAscii,
} from './plain-format.js';
import { types } from 'node:util';

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
    // Long: one pass in C++ writes it as ASCII (one byte a character) and tells whether it was (plain-format.ts writeAscii).
    this.#ensure(5 + Math.max(n + ASCII_ROOM, 2 * n));
    if (writeAscii(this.#buf, s, this.#p + 5, n + ASCII_ROOM)) {
      this.bytes[this.#p] = P_STR8;
      this.#dv.setUint32(this.#p + 1, n, true);
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
