/**
 * One segment of the shared heap (layout in layout.ts): creating its
 * SharedArrayBuffer, formatting it for a class (new, or reused: H8), checking
 * one received from another thread, and the two lock-free hot paths, take()
 * (H2) and release() (H3).
 */
import { randomInt } from 'node:crypto';
import {
  BITMAP_WORD,
  G_CLASS,
  G_GEN,
  G_INDEX,
  G_MAGIC,
  G_NONCE,
  G_OCC,
  OCC_CANDIDATE,
  OCC_COUNT,
  OCC_RETIRED,
  SEGMENT_MAGIC,
  type SegmentGeometry,
  hostGeometry,
  segWordOf,
} from './layout.js';

/** One segment as this thread sees it. */
export interface HeapSegment {
  readonly index: number;
  readonly gen: number;
  /** index | gen << 16: the first word of a block reference. */
  readonly segWord: number;
  readonly buffer: SharedArrayBuffer;
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  /** A Buffer over the whole segment, for its string codecs (latin1, utf16le) with no view per call. */
  readonly buf: Buffer;
  /** A DataView over the whole segment, for the plain codec's numbers (codec/plain-decode.ts). */
  readonly dv: DataView;
  readonly cls: number;
  readonly blockBytes: number;
  readonly blocks: number;
  readonly bitmapWords: number;
  /** First Int32 word of the LENGTHS table (alloc()'s byteLength + 1 per block). */
  readonly lengthsWord: number;
  readonly dataOffset: number;
  readonly nonce: number;
  /** Published (ACTIVE) and not retired: allocation may use it. */
  live: boolean;
  /** Bitmap word to start the next search at. */
  hint: number;
}

/** A new segment's SharedArrayBuffer with its header and bitmap set up; throws what `new SharedArrayBuffer` throws. */
export function createSegmentBuffer(g: SegmentGeometry, index: number, gen: number): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(g.byteLength);
  const h = new Int32Array(buffer, 0, g.lengthsWord);
  h[G_MAGIC] = SEGMENT_MAGIC;
  h[G_INDEX] = index;
  h[G_GEN] = gen;
  h[G_CLASS] = g.cls;
  h[G_NONCE] = randomInt(1, 2 ** 31 - 1);
  const tail = g.blocks & 31;
  if (tail !== 0) h[BITMAP_WORD + g.bitmapWords - 1] = ~((1 << tail) - 1); // bits past the last block: never free
  return buffer;
}

/**
 * H8: formats a retired segment's buffer (G_OCC = OCC_RETIRED, no block taken: the caller's CAS)
 * for class g.cls in generation gen. The generation is written first and G_OCC cleared last, so a
 * thread that still holds the old generation and reserves once G_OCC is 0 sees the new G_GEN.
 */
export function reformatSegment(i32: Int32Array, g: SegmentGeometry, gen: number): void {
  Atomics.store(i32, G_GEN, gen);
  Atomics.store(i32, G_CLASS, g.cls);
  // The new bitmap and lengths: all free, the bits past the last block set. These words were the
  // old geometry's bitmap, lengths or block bytes; nobody reads them until G_OCC is cleared.
  i32.fill(0, BITMAP_WORD, g.lengthsWord + g.blocks);
  const tail = g.blocks & 31;
  if (tail !== 0) i32[BITMAP_WORD + g.bitmapWords - 1] = ~((1 << tail) - 1);
  Atomics.store(i32, G_OCC, 0);
}

/** H6: the segment record for a received buffer, or undefined unless its size and header match what the table says. */
export function openSegment(buffer: SharedArrayBuffer, cls: number, index: number, gen: number): HeapSegment | undefined {
  const g = hostGeometry(cls, buffer.byteLength);
  if (g === undefined) return undefined;
  const i32 = new Int32Array(buffer);
  if (i32[G_MAGIC] !== SEGMENT_MAGIC || i32[G_INDEX] !== index || Atomics.load(i32, G_GEN) !== gen || i32[G_CLASS] !== cls) return undefined;
  return {
    index,
    gen,
    segWord: segWordOf(index, gen),
    buffer,
    i32,
    u8: new Uint8Array(buffer),
    buf: Buffer.from(buffer),
    dv: new DataView(buffer),
    cls,
    blockBytes: g.blockBytes,
    blocks: g.blocks,
    bitmapWords: g.bitmapWords,
    lengthsWord: g.lengthsWord,
    dataOffset: g.dataOffset,
    nonce: i32[G_NONCE]!,
    live: false,
    hint: 0,
  };
}

/**
 * H2: reserve (Atomics.add on G_OCC), check the generation (H8), then take the
 * lowest free bit of a bitmap word with Atomics.or. Returns the block's byte
 * offset, or -1 when the segment is full, retired or reformatted. Hot path:
 * two atomic operations and a load.
 */
export function take(seg: HeapSegment): number {
  const i32 = seg.i32;
  const old = Atomics.add(i32, G_OCC, 1);
  if ((old & OCC_RETIRED) !== 0 || (old & OCC_COUNT) >= seg.blocks || Atomics.load(i32, G_GEN) !== seg.gen) {
    Atomics.sub(i32, G_OCC, 1);
    if ((old & OCC_RETIRED) !== 0 || Atomics.load(i32, G_GEN) !== seg.gen) seg.live = false;
    return -1;
  }
  if ((old & OCC_CANDIDATE) !== 0) Atomics.and(i32, G_OCC, ~OCC_CANDIDATE); // in use again: no retirement
  const words = seg.bitmapWords;
  let w = seg.hint;
  // A zero bit exists for this reservation (H2); each failed or() means another thread took one.
  for (;;) {
    const x = Atomics.load(i32, BITMAP_WORD + w);
    if (x !== -1) {
      const bit = ~x & (x + 1);
      if ((Atomics.or(i32, BITMAP_WORD + w, bit) & bit) === 0) {
        seg.hint = w;
        return seg.dataOffset + ((w << 5) + 31 - Math.clz32(bit)) * seg.blockBytes;
      }
      continue;
    }
    if (++w === words) w = 0;
  }
}

/** H3: frees block k (already checked against the segment); a TypeError if it was free. */
export function release(seg: HeapSegment, k: number): void {
  const bit = 1 << (k & 31);
  const old = Atomics.and(seg.i32, BITMAP_WORD + (k >> 5), ~bit);
  if ((old & bit) === 0) throw new TypeError('free(): this block is already free (freed twice?)');
  Atomics.sub(seg.i32, G_OCC, 1);
}

/** Marks block k (just taken) as handed out by alloc() with byteLength bytes (H3). */
export function markLength(seg: HeapSegment, k: number, byteLength: number): void {
  Atomics.store(seg.i32, seg.lengthsWord + k, byteLength + 1);
}

/**
 * H3: the first half of free(view): takes block k's LENGTHS word from byteLength + 1 to 0.
 * False when the block is not one alloc() handed out with exactly that length (or a free of
 * it has already begun): then nothing changed.
 */
export function unmarkLength(seg: HeapSegment, k: number, byteLength: number): boolean {
  return Atomics.compareExchange(seg.i32, seg.lengthsWord + k, byteLength + 1, 0) === byteLength + 1;
}

/** Whether block k is allocated. */
export function isTaken(seg: HeapSegment, k: number): boolean {
  return (Atomics.load(seg.i32, BITMAP_WORD + (k >> 5)) & (1 << (k & 31))) !== 0;
}
