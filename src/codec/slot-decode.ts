/**
 * The slot format with the shared heap behind it, and how a slot is read: the base the slot
 * codec (slot-codec.ts, the writing side) builds on. What does not fit a slot goes into one heap
 * block, and the slot holds its reference.
 *
 * Slot words (slot-record.ts): T_TAG, T_LEN, and the payload area at PAYLOAD.
 * A heap payload keeps its reference in the first payload words:
 *   P_SEG   segWord (segment index | generation << 16)
 *   P_OFF   byte offset of the block in its segment
 *   P_TYPE  view type (TAG_BYTES, TAG_VIEW: Node's type index, heap-serializer.ts)
 *   T_LEN   byte length of the payload in the block
 *
 * Tags: slot-views.ts's 0…7, plus kinds and two flags:
 *   TAG_LATIN1  a string whose characters are all ASCII, one byte each
 *   TAG_BYTES   a copied ArrayBufferView that spans its whole ArrayBuffer: P_TYPE (its standard
 *               type: a Buffer is a Uint8Array, as with structuredClone), then (inline) the bytes at
 *               PAYLOAD + 16; any other view is TAG_SERIAL (heap-serializer.ts keeps its buffer)
 *   TAG_VIEW    a view over the shared heap, by reference (heap only; never freed by decode)
 *   | TAG_HEAP  the payload is in a heap block
 *   | TAG_JSON  the string is JSON text ('json' serialization): decode parses it
 *   TAG_CONSUMED  decode() took the heap payload that was here (set before its block is freed)
 *
 * Ownership: the block of a heap payload belongs to the reader once the
 * slot's packet is taken; decode() frees it (in a finally: also when the
 * value cannot be rebuilt). A payload that will never be decoded (a
 * cancelled task, a dead thread) is given back with discard().
 *
 * Reading trusts nothing it finds: every word that addresses memory is checked (A4, H6) — a
 * length against the payload area, a heap reference by the heap — so a corrupted slot is a
 * RangeError, never a read outside the slot or the block.
 */
import { SlotViews, TAG_FALLBACK, TAG_SERIAL, TAG_STRING } from './slot-views.js';
import type { SharedHeap } from '../heap/heap.js';
import { copyView, HeapDeserializer, makeView } from './heap-serializer.js';
import { PAYLOAD, T_LEN, T_TAG } from './slot-record.js';
import { type Carried, uncarry } from './carried.js';
import { PlainDecoder } from './plain-decode.js';
import { latin1Slice, ucs2Slice } from './plain-format.js';

export const TAG_LATIN1 = 8;
export const TAG_BYTES = 9;
export const TAG_VIEW = 10;
/** Plain data in the fast format of plain-*.ts (what the structured clone or JSON would give, by codec). */
export const TAG_PLAIN = 11;
export const KIND = 15;
export const TAG_HEAP = 16;
export const TAG_JSON = 32;
/** A heap payload already read (its block freed or being freed): nothing to discard. */
export const TAG_CONSUMED = 64;

/** Payload words, from the slot's first word. */
export const P_SEG = PAYLOAD >> 2;
export const P_OFF = P_SEG + 1;
export const P_TYPE = P_SEG + 2;
/** Inline bytes of a TAG_BYTES payload start here (16 bytes in: after P_TYPE, 8-aligned). */
export const BYTES_SKIP = 16;
export const BYTES_AT = PAYLOAD + BYTES_SKIP;

/** Slots read: the inline tags (SlotViews) and the kinds above, inline or in a heap block. */
export class SlotDecoder extends SlotViews {
  readonly #dv: DataView;
  /** Reads TAG_PLAIN payloads (and plain data that crossed by message: uncarry()). */
  readonly #plainDecoder = new PlainDecoder();

  constructor(
    buffer: SharedArrayBuffer,
    slots: number,
    slotBytes: number,
    readonly heap: SharedHeap | undefined,
  ) {
    super(buffer, slots, slotBytes);
    this.#dv = new DataView(buffer);
  }

  /**
   * Reads the value in slot w, and frees the heap block it was in (even if
   * the value cannot be rebuilt). Everything read from the slot that
   * addresses memory is checked (A4, H6).
   */
  override decode(w: number): unknown {
    const tag = this.i32[w + T_TAG]!;
    // The tiny-task path first: numbers, booleans, null, undefined and short strings are the inline tags.
    if (tag <= TAG_STRING) return this.decodeTag(w, tag);
    if ((tag & TAG_HEAP) === 0) return this.#inline(w, tag);
    const heap = this.heap;
    if (heap === undefined) throw new RangeError('task arena is corrupted: a heap payload without a heap');
    const i32 = this.i32;
    const segWord = i32[w + P_SEG]!;
    const off = i32[w + P_OFF]!;
    const len = i32[w + T_LEN]!;
    const seg = heap.resolve(segWord, off, len);
    const kind = tag & KIND;
    if (kind === TAG_VIEW) return makeView(i32[w + P_TYPE]!, seg.buffer, off, len); // the user's block: not freed
    // Consumed before the free: if this thread dies in between, the block is
    // lost, but the slot no longer names it — whoever cleans up after a dead
    // thread discards only a payload still tagged TAG_HEAP, never a block
    // that may already be someone else's.
    i32[w + T_TAG] = TAG_CONSUMED;
    let value: unknown;
    try {
      switch (kind) {
        case TAG_LATIN1:
          value = latin1Slice(seg.buf, off, off + len);
          break;
        case TAG_STRING:
          if ((len & 1) !== 0) throw new RangeError(`task arena is corrupted: odd UTF-16 length ${len}`);
          value = ucs2Slice(seg.buf, off, off + len);
          break;
        case TAG_PLAIN:
          value = this.#plainDecoder.decode(seg.u8, seg.dv, seg.buf, off, off + len);
          break;
        case TAG_SERIAL: {
          const d = new HeapDeserializer(new Uint8Array(seg.buffer, off, len), heap);
          d.readHeader();
          value = d.readValue();
          break;
        }
        case TAG_BYTES:
          value = copyView(i32[w + P_TYPE]!, new Uint8Array(seg.buffer, off, len));
          break;
        default:
          throw new RangeError(`task arena is corrupted: slot tag ${tag}`);
      }
    } finally {
      heap.freeRaw(segWord, off);
    }
    return (tag & TAG_JSON) !== 0 ? JSON.parse(value as string) : value;
  }

  /** A payload that will never be decoded: frees what it holds (its block, and blocks it refers to out of line). */
  discard(w: number): void {
    const tag = this.i32[w + T_TAG]!;
    // Only a heap payload holds a block, and a structured one may refer to blocks out of line.
    if (((tag & TAG_HEAP) === 0 && tag !== TAG_SERIAL) || tag === TAG_CONSUMED || (tag & KIND) === TAG_VIEW) return;
    try {
      this.decode(w);
    } catch {
      // Corrupted or unreadable: what could be freed was (decode frees its block in a finally).
    }
  }

  /** The value a Carried stands for: decoded as the slot or the heap would have decoded it. */
  uncarry(carried: Carried | undefined): unknown {
    return uncarry(carried, this.#plainDecoder);
  }

  #inline(w: number, tag: number): unknown {
    const kind = tag & KIND;
    if (kind === TAG_PLAIN) {
      const n = this.#length(w, 1);
      const at = (w << 2) + PAYLOAD;
      return this.#plainDecoder.decode(this.u8, this.#dv, this.buf, at, at + n);
    }
    if (kind === TAG_LATIN1) {
      const n = this.#length(w, 1);
      const at = (w << 2) + PAYLOAD;
      const s = latin1Slice(this.buf, at, at + n);
      return (tag & TAG_JSON) !== 0 ? JSON.parse(s) : s;
    }
    if (kind === TAG_BYTES) {
      const n = this.#length(w, 1, BYTES_SKIP);
      const at = (w << 2) + BYTES_AT;
      return copyView(this.i32[w + P_TYPE]!, this.u8.subarray(at, at + n));
    }
    if (kind === TAG_SERIAL) {
      const n = this.#length(w, 1);
      const at = (w << 2) + PAYLOAD;
      // It may name blocks out of line, which reading frees: read once (see decode()).
      this.i32[w + T_TAG] = TAG_CONSUMED;
      const d = new HeapDeserializer(this.u8.subarray(at, at + n), this.heap);
      d.readHeader();
      return d.readValue();
    }
    if (kind === TAG_STRING && (tag & TAG_JSON) !== 0) {
      const n = this.#length(w, 2);
      const at = (w << 2) + PAYLOAD;
      return JSON.parse(ucs2Slice(this.buf, at, at + 2 * n));
    }
    if (tag > TAG_FALLBACK) throw new RangeError(`task arena is corrupted: slot tag ${tag}`);
    return this.decodeTag(w, tag); // numbers, booleans, null, undefined, UTF-16 strings: the inline tags
  }

  /** An inline payload length (A4): units of `unit` bytes that fit the payload area after `skip` bytes. */
  #length(w: number, unit: number, skip = 0): number {
    const n = this.i32[w + T_LEN]!;
    if (n >>> 0 !== n || n * unit + skip > this.capacity) throw new RangeError(`task arena is corrupted: payload length ${n}`);
    return n;
  }
}
