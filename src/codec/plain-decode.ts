/**
 * The plain-data decoder (format in plain-format.ts): reads a payload from shared memory —
 * every length checked against the payload's end — into the values the encoder was given.
 */
import {
  fromCharCode,
  latin1Slice,
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
  type ShapeMaker,
  shapeMaker,
  ucs2Slice,
} from './plain-format.js';

export class PlainDecoder {
  #u8: Uint8Array = new Uint8Array(0);
  #dv: DataView = new DataView(new ArrayBuffer(0));
  #buf: Buffer = Buffer.alloc(0);
  #p = 0;
  #end = 0;
  #shapes: ShapeMaker[] = [];
  /** Shape definitions met recently, by their bytes (see RECENT_SHAPES): a match skips decoding the keys. */
  readonly #recent: { bytes: Uint8Array; make: ShapeMaker }[] = [];

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
  #shape(): ShapeMaker {
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
