/**
 * Typed views over a buffer of slots, and the value tags every slot may hold
 * inline: the base the slot codec (slot-decode.ts, slot-codec.ts) builds on.
 *
 * Inline tags (T_TAG; T_LEN and the bytes at PAYLOAD: slot-record.ts):
 *   TAG_UNDEFINED/NULL/TRUE/FALSE  nothing
 *   TAG_NUMBER                     one float64
 *   TAG_STRING                     T_LEN UTF-16 code units
 *   TAG_SERIAL                     T_LEN bytes of V8's serializer (the structured clone postMessage does)
 *   TAG_FALLBACK                   nothing here: the value travels by MessagePort
 *
 * slot-decode.ts adds the kinds and flags of values larger than a slot (the
 * shared heap) and of plain data (plain-*.ts); slot-codec.ts writes them.
 */
import { HeapDeserializer } from './heap-serializer.js';
import { ucs2Slice } from './plain-format.js';
import { PAYLOAD, T_LEN, T_TAG } from './slot-record.js';

export const TAG_UNDEFINED = 0;
export const TAG_NULL = 1;
export const TAG_TRUE = 2;
export const TAG_FALSE = 3;
export const TAG_NUMBER = 4;
export const TAG_STRING = 5;
export const TAG_SERIAL = 6;
export const TAG_FALLBACK = 7;

/** Typed views over one buffer of slots plus its geometry, and the decoding of the inline tags. */
export class SlotViews {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  /** The same memory as a Buffer, for Buffer's string codecs. */
  readonly buf: Buffer;
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
    this.buf = Buffer.from(buffer);
    this.capacity = slotBytes - PAYLOAD;
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
        // Short strings: a loop beats any call.
        if (n <= 16) {
          const u16 = this.u16;
          const base = start >> 1;
          let s = '';
          for (let i = 0; i < n; i++) s += String.fromCharCode(u16[base + i]!);
          return s;
        }
        // Code unit for code unit, lone surrogates included (a TextDecoder would replace them with U+FFFD).
        return ucs2Slice(this.buf, start, start + 2 * n);
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
