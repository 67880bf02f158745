/**
 * Shared-memory layout of a pool's shared heap (heap.ts): one CONTROL
 * SharedArrayBuffer, created with the heap and given to every thread, and any
 * number of SEGMENTS, one SharedArrayBuffer each, created on demand by
 * whichever thread runs out of room and retired when they stay empty.
 *
 * CONTROL (fixed size):
 * ```
 *  byte offset          Int32 word         meaning
 *  ──────────────────────────────────────────────────────────────────────────
 *  0    HEADER (64 B)   H_MAGIC       0    0x50414548 ("HEAP")
 *                       H_VERSION     1    HEAP_VERSION
 *                       H_SEGMENTS    2    entries in the segment table (≤ MAX_SEGMENTS)
 *                       H_MAX_KB      3    bound on the bytes of all live segments, in KiB
 *                       H_FLOOR_KB    4    trim() retires (largest first) only while H_TOTAL_KB is above this
 *                       H_MAX_BLOCK   5    largest block alloc() serves, in bytes
 *                       H_TOTAL_KB    6    KiB reserved by CREATING and ACTIVE segments (CAS)
 *                       H_EPOCH       7    +1 at every publish and retire: "the table changed"
 *                       H_HIGH        8    entries ever used: scans stop there
 *                       H_RETIRE_MS   9    trim() retires a segment empty for at least this long
 *  64   TABLE           entry i at word 16 + 8·i:
 *                         +0 E_STATE   EMPTY | CREATING | ACTIVE
 *                         +1 E_GEN     generation: +1 each time the entry gets a new segment
 *                         +2 E_CLASS   size class of its blocks
 *                         +3 E_KB      the segment's size in KiB (what H_TOTAL_KB counts for it)
 *                         +4 E_OWNER   creator's threadId + 1 while CREATING (releaseThread repairs)
 * ```
 *
 * SEGMENT (one SharedArrayBuffer, byteLength = segmentGeometry(class).byteLength):
 * ```
 *  0    HEADER (64 B)   G_MAGIC       0    0x47455348 ("HSEG")
 *                       G_INDEX       1    its entry in the TABLE
 *                       G_GEN         2    the entry's E_GEN when it was created
 *                       G_CLASS       3    size class
 *                       G_OCC         4    blocks allocated or reserved (low 24 bits)
 *                                          | OCC_CANDIDATE (trim saw it empty once)
 *                                          | OCC_RETIRED (dead: never allocate from it again)
 *                       G_NONCE       5    random: tells a copy of this SharedArrayBuffer
 *                                          (a view sent by postMessage) from a foreign one
 *  64   BITMAP          ceil(blocks / 32) words, bit b of word w = block 32·w + b allocated;
 *                       the bits past the last block are set at creation (never allocated)
 *  LENGTHS              blocks words: for a block alloc() handed out, its byteLength + 1; else 0
 *  dataOffset (64-aligned)  blocks × blockBytes: block k at dataOffset + k·blockBytes
 * ```
 *
 * A block reference is three Int32 words: (segWord, byteOffset, byteLength),
 * segWord = index | (gen & GEN_MASK) << 16, byteOffset from the start of the
 * segment's SharedArrayBuffer. The generation in the reference tells a
 * reference to a retired segment from one to the segment now in its entry.
 *
 * Invariants:
 *  H1  A segment is published (E_STATE = ACTIVE, H_EPOCH + 1) only after its
 *      SharedArrayBuffer was posted on the heap's BroadcastChannel, which
 *      queues it at once in every subscribed thread. A thread therefore
 *      finds, with receiveMessageOnPort, every segment it sees ACTIVE — or
 *      any block reference into it, which can only be written after the
 *      publish. A thread that subscribed late gets the earlier segments from
 *      another thread's grants() (see heap.ts, "joining").
 *  H2  Allocation reserves before it takes: Atomics.add(G_OCC, 1) first; the
 *      reservation counts only if the old value had no OCC_RETIRED bit and
 *      a count below `blocks` (else it is undone). A reserver then owns one
 *      zero bit somewhere in the BITMAP (zero bits ≥ reservations not yet
 *      served), and takes the lowest zero bit of a word with Atomics.or —
 *      the returned old value says whether the bit was still free. No lock,
 *      no ABA: a bit is a block, and only its owner clears it.
 *  H3  Free clears the bit with Atomics.and, then Atomics.sub(G_OCC, 1). An
 *      old value without the bit is a double free: a TypeError, and the
 *      bitmap is unchanged (and-ing a zero bit with zero). free() of a view
 *      first takes the block's LENGTHS word from its byteLength + 1 to 0 with
 *      a CAS: only a view of exactly the block and length alloc() handed out
 *      matches, and only one of two concurrent frees wins.
 *  H4  G_OCC = 0 means no block allocated and none reserved (H2, H3 order).
 *      Retiring is CAS(G_OCC, OCC_CANDIDATE → OCC_RETIRED): it succeeds only
 *      if trim() saw the segment empty before (it set OCC_CANDIDATE from 0)
 *      and no reservation happened since (a reservation clears the bit). A retired segment never serves a
 *      block again; its entry goes back to EMPTY and H_TOTAL_KB gives back
 *      its KiB. Each thread drops its views of it when it sees H_EPOCH move
 *      (sync()); the memory is freed once every thread has, and has run a
 *      garbage collection (V8 counts SharedArrayBuffers in no GC trigger:
 *      releaseMemory() in shrink.ts).
 *  H5  H_TOTAL_KB ≤ H_MAX_KB: a creator adds the segment's KiB with a CAS
 *      that checks the bound before it claims an entry (EMPTY → CREATING).
 *  H6  Everything read from shared memory that addresses memory is checked
 *      before use: entry indices against H_SEGMENTS, classes against the
 *      class table, a segment's header against the geometry its class
 *      implies, a reference's offset and length against its segment and
 *      block, and the block's bit must be set.
 */

export const HEAP_MAGIC = 0x50414548;
export const HEAP_VERSION = 1;
export const SEGMENT_MAGIC = 0x47455348;

export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_SEGMENTS = 2;
export const H_MAX_KB = 3;
export const H_FLOOR_KB = 4;
export const H_MAX_BLOCK = 5;
export const H_TOTAL_KB = 6;
export const H_EPOCH = 7;
export const H_HIGH = 8;
export const H_RETIRE_MS = 9;

export const TABLE_WORD = 16;
export const ENTRY_WORDS = 8;
export const E_STATE = 0;
export const E_GEN = 1;
export const E_CLASS = 2;
export const E_KB = 3;
export const E_OWNER = 4;

export const EMPTY = 0;
export const CREATING = 1;
export const ACTIVE = 2;

export const G_MAGIC = 0;
export const G_INDEX = 1;
export const G_GEN = 2;
export const G_CLASS = 3;
export const G_OCC = 4;
export const G_NONCE = 5;
export const SEGMENT_HEADER_BYTES = 64;
export const BITMAP_WORD = SEGMENT_HEADER_BYTES >> 2;

export const OCC_COUNT = 0x00ffffff;
export const OCC_CANDIDATE = 0x01000000;
export const OCC_RETIRED = 0x02000000;

/** Segment indices fit 16 bits of a reference's segWord; the generation takes the next 15. */
export const MAX_SEGMENTS = 1 << 16;
export const GEN_MASK = 0x7fff;

export function controlBytes(segments: number): number {
  return (TABLE_WORD + segments * ENTRY_WORDS) * 4;
}

// ───────────────────────────── size classes ─────────────────────────────
//
// Class 0 holds blocks of 64 bytes; above it, four classes per power of two
// (2^e + k·2^(e−2), k = 1…4), so a block wastes at most 20 % of itself.
// Every class size is a multiple of 16, and blocks start 64-aligned in their
// segment: a Float64Array or BigInt64Array over an alloc()'d block is legal.

export const MIN_BLOCK = 64;
/** The largest class this layout can describe (alloc's configurable bound is at most this). */
export const MAX_BLOCK_LIMIT = 64 * 1024 * 1024;

/** The size class of a block of n bytes (0 ≤ n ≤ MAX_BLOCK_LIMIT). */
export function classOf(n: number): number {
  if (n <= MIN_BLOCK) return 0;
  const e = 31 - Math.clz32(n - 1); // 2^e < n ≤ 2^(e+1), e ≥ 6
  const step = 1 << (e - 2);
  return (e - 6) * 4 + Math.ceil((n - (1 << e)) / step);
}

/** Block bytes of class c. */
export function classBytes(c: number): number {
  if (c === 0) return MIN_BLOCK;
  const e = 6 + ((c - 1) >> 2);
  const k = ((c - 1) & 3) + 1;
  return (1 << e) + k * (1 << (e - 2));
}

export const CLASS_COUNT = classOf(MAX_BLOCK_LIMIT) + 1;

// ───────────────────────────── segment geometry ─────────────────────────────
//
// A segment holds blocks of one class: about SEGMENT_TARGET bytes of them,
// at least MIN_BLOCKS (so a large class does not make a segment per block)
// and at most MAX_BLOCKS (so a bitmap scan stays short: 128 words).

const SEGMENT_TARGET = 1 << 20;
const MIN_BLOCKS = 4;
const MAX_BLOCKS = 4096;

export interface SegmentGeometry {
  cls: number;
  blockBytes: number;
  blocks: number;
  bitmapWords: number;
  /** The LENGTHS table's first Int32 word. */
  lengthsWord: number;
  dataOffset: number;
  byteLength: number;
  /** byteLength rounded up to KiB: what the segment counts against H_MAX_KB. */
  kb: number;
}

const geometries: SegmentGeometry[] = [];

export function segmentGeometry(cls: number): SegmentGeometry {
  let g = geometries[cls];
  if (g === undefined) {
    const blockBytes = classBytes(cls);
    const blocks = Math.min(MAX_BLOCKS, Math.max(MIN_BLOCKS, Math.floor(SEGMENT_TARGET / blockBytes)));
    const bitmapWords = Math.ceil(blocks / 32);
    const lengthsWord = BITMAP_WORD + bitmapWords;
    const dataOffset = Math.ceil(((lengthsWord + blocks) * 4) / 64) * 64;
    const byteLength = dataOffset + blocks * blockBytes;
    g = { cls, blockBytes, blocks, bitmapWords, lengthsWord, dataOffset, byteLength, kb: Math.ceil(byteLength / 1024) };
    geometries[cls] = g;
  }
  return g;
}

/** The Int32 word that names segment `index` of generation `gen` in a block reference. */
export function segWordOf(index: number, gen: number): number {
  return index | ((gen & GEN_MASK) << 16);
}
