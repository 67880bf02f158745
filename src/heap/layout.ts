/**
 * Shared-memory layout of a pool's shared heap (heap.ts): one CONTROL
 * SharedArrayBuffer, created with the heap and given to every thread, and any
 * number of SEGMENTS, one SharedArrayBuffer each, created on demand by
 * whichever thread runs out of room, given another size class when they are
 * empty and another class needs room (reformat), and retired when they stay
 * empty.
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
 *                       H_LIMBO_KB   10    KiB of retired segments some thread may still hold (CAS, ≤ H_MAX_KB)
 *                       H_ASK        11    1: a thread retired something since the last release round began
 *                       H_RETIRED_KB 12    KiB ever retired (wraps): +kb once a retire is complete
 *                       H_RELEASED_KB 13   H_RETIRED_KB as of the last release round that ended
 *                       H_HELD_KB    14    KiB of retired segments that round found still held
 *                       H_GEOMETRY   15    new segments' target KiB (low 16 bits) | their least blocks << 16
 *  64   TABLE           entry i at word 16 + 8·i:
 *                         +0 E_STATE   EMPTY | CREATING | ACTIVE
 *                         +1 E_GEN     generation: +1 each time the entry gets a new segment or a new format
 *                         +2 E_CLASS   size class of its blocks
 *                         +3 E_KB      the segment's size in KiB (what H_TOTAL_KB counts for it)
 *                         +4 E_OWNER   creator's threadId + 1 while CREATING (releaseThread repairs)
 * ```
 *
 * SEGMENT (one SharedArrayBuffer; its geometry follows from its class and
 * its byteLength: hostGeometry()):
 * ```
 *  0    HEADER (64 B)   G_MAGIC       0    0x47455348 ("HSEG")
 *                       G_INDEX       1    its entry in the TABLE
 *                       G_GEN         2    the entry's E_GEN when it was created or last formatted
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
 * reference to a retired or reformatted segment from one to the segment now
 * in its entry.
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
 *      reservation counts only if the old value had no OCC_RETIRED bit, a
 *      count below `blocks`, and G_GEN (read after it) is still the
 *      generation the thread holds (else it is undone: see H8). A reserver
 *      then owns one zero bit somewhere in the BITMAP (zero bits ≥
 *      reservations not yet served), and takes the lowest zero bit of a word
 *      with Atomics.or — the returned old value says whether the bit was still
 *      free. No lock, no ABA: a bit is a block, and only its owner clears it.
 *  H3  Free clears the bit with Atomics.and, then Atomics.sub(G_OCC, 1). An
 *      old value without the bit is a double free: a TypeError, and the
 *      bitmap is unchanged (and-ing a zero bit with zero). free() of a view
 *      first takes the block's LENGTHS word from its byteLength + 1 to 0 with
 *      a CAS: only a view of exactly the block and length alloc() handed out
 *      matches, and only one of two concurrent frees wins.
 *  H4  G_OCC = 0 means no block allocated and none reserved (H2, H3 order).
 *      Retiring is CAS(G_OCC, OCC_CANDIDATE or 0 → OCC_RETIRED): it succeeds
 *      only if the segment was empty and no reservation happened since (a
 *      reservation clears OCC_CANDIDATE). A retired segment never serves a
 *      block in its generation again. Its KiB move from H_TOTAL_KB to
 *      H_LIMBO_KB and its entry goes back to EMPTY; each thread drops its
 *      views of it when it sees H_EPOCH move (sync()).
 *  H5  H_TOTAL_KB ≤ H_MAX_KB: a creator adds the segment's KiB with a CAS
 *      that checks the bound before it claims an entry (EMPTY → CREATING).
 *  H6  Everything read from shared memory that addresses memory is checked
 *      before use: entry indices against H_SEGMENTS, classes against the
 *      class table, a segment's header against the table and the geometry its
 *      class and size imply, a reference's offset and length against its
 *      segment and block, and the block's bit must be set.
 *  H7  H_LIMBO_KB ≤ H_MAX_KB: a retirer adds the segment's KiB with a CAS
 *      that checks the bound before its CAS on G_OCC (and takes them back if
 *      that fails); once the retire is complete (entry EMPTY, H_EPOCH + 1) it
 *      adds them to H_RETIRED_KB. A release round begins by reading
 *      H_RETIRED_KB (its token); then every thread drops the retired
 *      segments, takes its queued channel messages, has a collection run, and
 *      reports the retired segments whose SharedArrayBuffer objects are still
 *      alive in it (collect()). endRelease() then sets H_LIMBO_KB to what is
 *      still unaccounted: KiB retired after the token, plus the KiB of the
 *      segments reported held (H_HELD_KB, replacing the last round's). So
 *      H_LIMBO_KB ≥ the memory of retired segments some thread may still
 *      hold, and the memory of all segments — live, or retired and not yet
 *      freed — stays under 2 × H_MAX_KB however often the heap retires (a
 *      thread that dies while it creates a segment may add one past the
 *      bound until the next round). V8 counts SharedArrayBuffer memory in no
 *      garbage-collection trigger: without the bound, a heap that retires and
 *      creates at its limit piles up retired segments by the gigabyte.
 *  H8  Reformatting reuses an empty segment's SharedArrayBuffer for another
 *      class instead of retiring it: CAS(G_OCC → OCC_RETIRED) as in H4, the
 *      entry ACTIVE → CREATING, G_GEN and G_CLASS rewritten, BITMAP and
 *      LENGTHS rewritten for the new geometry, then G_OCC = 0; the buffer is
 *      posted again and published as in H1 with the new E_GEN. A thread that
 *      still holds the old generation and reserves after G_OCC = 0 reads the
 *      new G_GEN (written before, seq-cst) and undoes (H2): it never takes a
 *      bit by the old geometry. No memory is allocated or left to collect.
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
export const H_LIMBO_KB = 10;
export const H_ASK = 11;
export const H_RETIRED_KB = 12;
export const H_RELEASED_KB = 13;
export const H_HELD_KB = 14;
export const H_GEOMETRY = 15;

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
// A new segment holds blocks of one class: about `targetBytes` of them, at
// least `minBlocks` (so a large class does not make a segment per block) and
// at most MAX_BLOCKS (so a bitmap scan stays short: 128 words). Both follow
// from the heap's bound (policyFor): at the default 256 MiB, 1 MiB segments
// and at least four blocks; a small heap gets smaller segments and one-block
// segments for its largest classes, so that it holds a segment for each of
// the many size classes a mixed load uses instead of a few large ones (at its
// bound a class without one reformats someone's empty segment, or finds none
// and goes by MessagePort). A segment reformatted for another class keeps its
// byteLength: as many blocks of the new class as fit (hostGeometry).

export const MAX_BLOCKS = 4096;

/** How a heap sizes its new segments (H_GEOMETRY). */
export interface SegmentPolicy {
  targetBytes: number;
  minBlocks: number;
}

const MAX_TARGET = 1 << 20;
const MIN_TARGET = 64 * 1024;

/**
 * The policy of a heap bounded by maxBytes with blocks up to maxBlockBytes: a target of
 * maxBytes / 64 (a power of two, 64 KiB … 1 MiB), and as many blocks of the largest class
 * (1 … 4) as keep its segment within maxBytes / 16.
 */
export function policyFor(maxBytes: number, maxBlockBytes: number): SegmentPolicy {
  const target = 2 ** Math.floor(Math.log2(Math.max(1, maxBytes / 64)));
  const largest = classBytes(classOf(maxBlockBytes));
  return {
    targetBytes: Math.min(MAX_TARGET, Math.max(MIN_TARGET, target)),
    minBlocks: Math.min(4, Math.max(1, Math.floor(maxBytes / (16 * largest)))),
  };
}

export function encodePolicy(p: SegmentPolicy): number {
  return (p.targetBytes >> 10) | (p.minBlocks << 16);
}

/** H6: the policy in a control block, or undefined if the word is not one. */
export function decodePolicy(word: number): SegmentPolicy | undefined {
  const targetBytes = (word & 0xffff) << 10;
  const minBlocks = word >>> 16;
  if (!(targetBytes >= MIN_TARGET && targetBytes <= MAX_TARGET && minBlocks >= 1 && minBlocks <= 4)) return undefined;
  return { targetBytes, minBlocks };
}

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

function layoutOf(cls: number, blockBytes: number, blocks: number, byteLength: number): SegmentGeometry {
  const bitmapWords = Math.ceil(blocks / 32);
  const lengthsWord = BITMAP_WORD + bitmapWords;
  const dataOffset = Math.ceil(((lengthsWord + blocks) * 4) / 64) * 64;
  return { cls, blockBytes, blocks, bitmapWords, lengthsWord, dataOffset, byteLength, kb: Math.ceil(byteLength / 1024) };
}

/**
 * The geometry of class `cls` in a SharedArrayBuffer of byteLength bytes: as many blocks as fit
 * after the header, bitmap and lengths (at most MAX_BLOCKS); undefined when not one fits.
 */
export function hostGeometry(cls: number, byteLength: number): SegmentGeometry | undefined {
  const blockBytes = classBytes(cls);
  let blocks = Math.min(MAX_BLOCKS, Math.floor(byteLength / blockBytes));
  for (; blocks >= 1; blocks--) {
    const g = layoutOf(cls, blockBytes, blocks, byteLength);
    if (g.dataOffset + blocks * blockBytes <= byteLength) return g;
  }
  return undefined;
}

export const DEFAULT_POLICY: SegmentPolicy = { targetBytes: MAX_TARGET, minBlocks: 4 };
const geometries = new Map<number, SegmentGeometry[]>();

/** The geometry of a new segment of class `cls` under `policy` (hostGeometry of the byteLength it is created with). */
export function segmentGeometry(cls: number, policy: SegmentPolicy = DEFAULT_POLICY): SegmentGeometry {
  const key = encodePolicy(policy);
  let cache = geometries.get(key);
  if (cache === undefined) geometries.set(key, (cache = []));
  let g = cache[cls];
  if (g === undefined) {
    const blockBytes = classBytes(cls);
    const blocks = Math.min(MAX_BLOCKS, Math.max(policy.minBlocks, Math.floor(policy.targetBytes / blockBytes)));
    const sized = layoutOf(cls, blockBytes, blocks, 0);
    g = hostGeometry(cls, sized.dataOffset + blocks * blockBytes)!;
    cache[cls] = g;
  }
  return g;
}

/** The Int32 word that names segment `index` of generation `gen` in a block reference. */
export function segWordOf(index: number, gen: number): number {
  return index | ((gen & GEN_MASK) << 16);
}
