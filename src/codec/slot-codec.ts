/**
 * Values into arena slots, with the shared heap behind them: the writing side of the slot format
 * (slot-decode.ts states it — words, tags, ownership — and reads it). What does not fit a slot
 * goes into one heap block, and the slot holds its reference. Only a value the heap cannot take
 * (above its largest block, or the heap at its bound) is TAG_FALLBACK, for the caller to send by
 * MessagePort: carried() says what to send (carried.ts), uncarry() reads it on the other side.
 *
 * Copies: a string is written once (latin1 or utf16le, straight into the
 * block) and read once (into the new string); a typed array likewise; a
 * heap view not at all. A structured value is written by V8 into its own
 * buffer and copied once into the block (Node's serializer cannot write
 * into memory it is given) — except ArrayBuffers of OUT_OF_LINE bytes or
 * more under views, which skip that buffer (heap-serializer.ts). The reader
 * deserializes straight from the shared block.
 */
import { TAG_FALLBACK, TAG_FALSE, TAG_NULL, TAG_NUMBER, TAG_SERIAL, TAG_STRING, TAG_TRUE, TAG_UNDEFINED } from './slot-views.js';
import type { SharedHeap } from '../heap/heap.js';
import { BY_MESSAGE, baseViewType, HeapSerializer, isResizable } from './heap-serializer.js';
import { PAYLOAD, T_LEN, T_TAG } from './slot-record.js';
import type { Carried } from './carried.js';
import { type Serialization, toJson } from './serialization.js';
import { holdsNodeCloneable } from './node-cloneable.js';
import { PlainEncoder } from './plain-encode.js';
import { ASCII_ROOM, latin1Write, ucs2Write, writeAscii } from './plain-format.js';
import {
  BYTES_AT,
  BYTES_SKIP,
  P_OFF,
  P_SEG,
  P_TYPE,
  SlotDecoder,
  TAG_BYTES,
  TAG_HEAP,
  TAG_JSON,
  TAG_LATIN1,
  TAG_PLAIN,
  TAG_VIEW,
} from './slot-decode.js';

/** After a value the plain path refused, it is skipped for the next 2^k − 1 values (k: refusals in a row, ≤ 10). */
const MAX_BACKOFF = 10;

/** Slots written (and, by SlotDecoder, read): the codec each side of the arena holds. */
export class SlotCodec extends SlotDecoder {
  readonly #json: boolean;
  #plain: PlainEncoder | undefined;
  #plainJson: PlainEncoder | undefined;
  /** A plain encoder is in use (a getter of the value being encoded called run() again): use a new one. */
  #plainBusy = false;
  #plainRefused = 0;
  #plainSkip = 0;
  /** What the last TAG_FALLBACK answer made of its value, for carried() (undefined: the value itself). */
  #carry: Carried | undefined;

  constructor(
    buffer: SharedArrayBuffer,
    slots: number,
    slotBytes: number,
    heap: SharedHeap | undefined,
    readonly serialization: Serialization = 'structured',
  ) {
    super(buffer, slots, slotBytes, heap);
    this.#json = serialization === 'json';
  }

  /** Writes value into slot w with the codec's serialization; returns its tag (TAG_FALLBACK: nothing written). */
  encode(w: number, value: unknown): number {
    // The tiny-task path first: a number is one store and the tag (no call, no branch on the heap).
    if (typeof value === 'number') {
      this.f64[((w << 2) + PAYLOAD) >> 3] = value;
      return (this.i32[w + T_TAG] = TAG_NUMBER);
    }
    return this.#encode(w, value, this.#json);
  }

  /** Always structured, whatever the codec's serialization (errors keep their type this way). */
  encodeStructured(w: number, value: unknown): number {
    return this.#encode(w, value, false);
  }

  #encode(w: number, value: unknown, json: boolean): number {
    const i32 = this.i32;
    switch (typeof value) {
      case 'number':
        this.f64[((w << 2) + PAYLOAD) >> 3] = value;
        return (i32[w + T_TAG] = TAG_NUMBER);
      case 'string':
        return this.#string(w, value, 0);
      case 'undefined':
        return (i32[w + T_TAG] = TAG_UNDEFINED);
      case 'boolean':
        return (i32[w + T_TAG] = value ? TAG_TRUE : TAG_FALSE);
      case 'object':
        if (value === null) return (i32[w + T_TAG] = TAG_NULL);
        if (ArrayBuffer.isView(value)) return this.#view(w, value);
        return this.#object(w, value, json);
      default:
        if (json) return this.#string(w, toJson(value), TAG_JSON);
        return this.#serial(w, value); // a bigint; a function or a symbol throws, like postMessage
    }
  }

  /**
   * What to send by MessagePort for `value`, which encode() (or encodeStructured()) just answered
   * TAG_FALLBACK for, or which never went through them (a transferList, a value the codec threw on):
   * its plain-data bytes or JSON text if the codec made them, else the value itself.
   */
  carried(value: unknown): Carried {
    const carry = this.#carry;
    this.#carry = undefined;
    return carry ?? { value };
  }

  /** TAG_FALLBACK, remembering what carried() is to send (undefined: the value itself). */
  #fallback(carry: Carried | undefined): number {
    this.#carry = carry;
    return TAG_FALLBACK;
  }

  /**
   * An object: plain data goes the fast way (plain-*.ts); anything else through JSON or V8's
   * serializer. Refusals back off the fast path, so a stream of values it cannot take pays for
   * few attempts. (An attempt reads the properties it meets: a getter among them runs twice
   * when the value turns out not to be plain.)
   */
  #object(w: number, value: object, json: boolean): number {
    if (this.#plainSkip === 0) {
      let encoder = json ? (this.#plainJson ??= new PlainEncoder(true)) : (this.#plain ??= new PlainEncoder(false));
      if (this.#plainBusy) encoder = new PlainEncoder(json);
      const busy = this.#plainBusy;
      this.#plainBusy = true;
      let n: number;
      try {
        n = encoder.encode(value);
      } finally {
        this.#plainBusy = busy;
      }
      if (n >= 0) {
        this.#plainRefused = 0;
        return this.#bytes(w, encoder.bytes, n, TAG_PLAIN);
      }
      if (this.#plainRefused < MAX_BACKOFF) this.#plainRefused++;
      this.#plainSkip = (1 << this.#plainRefused) - 1;
    } else {
      this.#plainSkip--;
    }
    if (json) return this.#string(w, toJson(value), TAG_JSON);
    return this.#serial(w, value);
  }

  /** n bytes of an encoding into the slot, or a heap block; TAG_FALLBACK when neither can take them. */
  #bytes(w: number, bytes: Uint8Array, n: number, tag: number): number {
    if (n <= this.capacity) {
      this.u8.set(bytes.subarray(0, n), (w << 2) + PAYLOAD);
      this.i32[w + T_LEN] = n;
      return (this.i32[w + T_TAG] = tag);
    }
    const heap = this.heap;
    const off = heap === undefined ? -1 : heap.allocRaw(n);
    // The encoding itself crosses (a copy: the encoder's buffer is reused): read as the heap's would be.
    if (off < 0) return this.#fallback({ plain: bytes.slice(0, n) });
    const seg = heap!.lastSegment!;
    seg.u8.set(bytes.subarray(0, n), off);
    return this.#ref(w, seg.segWord, off, n, tag | TAG_HEAP);
  }

  #string(w: number, s: string, json: number): number {
    const i32 = this.i32;
    const n = s.length;
    const capacity = this.capacity;
    if (n * 2 <= capacity) {
      // Short: a char loop into the slot beats any call (Buffer's writers cost more than they save here).
      const u16 = this.u16;
      const base = ((w << 2) + PAYLOAD) >> 1;
      for (let i = 0; i < n; i++) u16[base + i] = s.charCodeAt(i);
      i32[w + T_LEN] = n;
      return (i32[w + T_TAG] = TAG_STRING | json);
    }
    // Pure ASCII travels as one byte a character, written as it is checked (plain-format.ts writeAscii).
    const at = (w << 2) + PAYLOAD;
    if (n + ASCII_ROOM <= capacity) {
      if (!writeAscii(this.buf, s, at, n + ASCII_ROOM)) return this.#heapString(w, s, false, json);
      i32[w + T_LEN] = n;
      return (i32[w + T_TAG] = TAG_LATIN1 | json);
    }
    if (n <= capacity && Buffer.byteLength(s, 'utf8') === n) {
      // The few lengths that fit the slot but not with the room the one-pass check needs.
      latin1Write(this.buf, s, at, n);
      i32[w + T_LEN] = n;
      return (i32[w + T_TAG] = TAG_LATIN1 | json);
    }
    return this.#heapString(w, s, undefined, json);
  }

  /** A string too large for the slot into a heap block: ASCII one byte a character (unless `ascii` is false), else UTF-16. */
  #heapString(w: number, s: string, ascii: boolean | undefined, json: number): number {
    const heap = this.heap;
    const n = s.length;
    if (heap !== undefined) {
      if (ascii !== false) {
        const off = heap.allocRaw(n + ASCII_ROOM);
        if (off >= 0) {
          const seg = heap.lastSegment!;
          if (writeAscii(seg.buf, s, off, n + ASCII_ROOM)) return this.#ref(w, seg.segWord, off, n, TAG_LATIN1 | TAG_HEAP | json);
          heap.freeRaw(seg.segWord, off);
        } else if (Buffer.byteLength(s, 'utf8') === n) {
          // No block with the room the one-pass check needs (at the largest block size, or a full heap): exactly n, if one is free.
          const exact = heap.allocRaw(n);
          if (exact < 0) return this.#fallback(json === 0 ? undefined : { json: s });
          const seg = heap.lastSegment!;
          latin1Write(seg.buf, s, exact, n);
          return this.#ref(w, seg.segWord, exact, n, TAG_LATIN1 | TAG_HEAP | json);
        }
      }
      const off = heap.allocRaw(2 * n);
      if (off >= 0) {
        const seg = heap.lastSegment!;
        ucs2Write(seg.buf, s, off, 2 * n);
        return this.#ref(w, seg.segWord, off, 2 * n, TAG_STRING | TAG_HEAP | json);
      }
    }
    // JSON text crosses as text, for the receiver to parse; a string as itself.
    return this.#fallback(json === 0 ? undefined : { json: s });
  }

  #view(w: number, v: ArrayBufferView): number {
    const t = baseViewType(v);
    const buffer = v.buffer;
    const n = v.byteLength;
    const heap = this.heap;
    if (buffer instanceof SharedArrayBuffer) {
      const seg = heap?.segmentOf(buffer);
      // Memory shared some other way: postMessage shares it too (a copy here would not).
      if (seg === undefined || t < 0) return this.#fallback(undefined);
      this.i32[w + P_TYPE] = t;
      return this.#ref(w, seg.segWord, v.byteOffset, n, TAG_VIEW | TAG_HEAP);
    }
    // A view of all of its buffer (the usual case) is its type and its bytes. Anything else —
    // a subarray, a pooled Buffer's slice, a resizable buffer, an empty or detached one — is
    // what the structured clone makes of it (its whole buffer, its offset), by V8's serializer.
    if (t < 0 || n === 0 || v.byteOffset !== 0 || n !== buffer.byteLength || isResizable(buffer)) return this.#serial(w, v);
    const src = new Uint8Array(buffer, 0, n);
    if (n + BYTES_SKIP <= this.capacity) {
      this.u8.set(src, (w << 2) + BYTES_AT);
      this.i32[w + P_TYPE] = t;
      this.i32[w + T_LEN] = n;
      return (this.i32[w + T_TAG] = TAG_BYTES);
    }
    const off = heap === undefined ? -1 : heap.allocRaw(n);
    if (off < 0) return this.#fallback(undefined);
    const seg = heap!.lastSegment!;
    seg.u8.set(src, off);
    this.i32[w + P_TYPE] = t;
    return this.#ref(w, seg.segWord, off, n, TAG_BYTES | TAG_HEAP);
  }

  #serial(w: number, value: unknown): number {
    // A Blob (and the like) on Node 22+: V8 would write {}; postMessage clones it (node-cloneable.ts).
    if (holdsNodeCloneable(value)) return this.#fallback(undefined);
    const ser = new HeapSerializer(this.heap);
    let bytes: Buffer;
    try {
      ser.writeHeader();
      ser.writeValue(value);
      bytes = ser.releaseBuffer();
    } catch (error) {
      ser.abandon();
      if (error === BY_MESSAGE) return this.#fallback(undefined);
      throw error;
    }
    const n = bytes.length;
    if (n <= this.capacity) {
      this.u8.set(bytes, (w << 2) + PAYLOAD);
      this.i32[w + T_LEN] = n;
      return (this.i32[w + T_TAG] = TAG_SERIAL);
    }
    const heap = this.heap;
    const off = heap === undefined ? -1 : heap.allocRaw(n);
    if (off < 0) {
      ser.abandon();
      return this.#fallback(undefined);
    }
    const seg = heap!.lastSegment!;
    seg.u8.set(bytes, off);
    return this.#ref(w, seg.segWord, off, n, TAG_SERIAL | TAG_HEAP);
  }

  #ref(w: number, segWord: number, off: number, len: number, tag: number): number {
    const i32 = this.i32;
    i32[w + P_SEG] = segWord;
    i32[w + P_OFF] = off;
    i32[w + T_LEN] = len;
    return (i32[w + T_TAG] = tag);
  }
}
