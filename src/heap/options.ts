/** The shared heap's options, their defaults and checks, and the shapes it hands out (handle, stats). */
import { classOf, MAX_BLOCK_LIMIT, MAX_SEGMENTS, policyFor, segmentGeometry } from './layout.js';
import type { SegmentGrant } from './directory.js';

export interface SharedHeapOptions {
  /** Bound on the bytes of all segments together. Default 256 MiB. */
  maxBytes?: number;
  /**
   * trim() retires empty segments, largest first, only while the heap is above this: an idle
   * heap ends at floorBytes or below. Default 2 MiB (room for the segments of two small size
   * classes, about 1 MiB each, so a pool of small tasks keeps its segments while idle).
   */
  floorBytes?: number;
  /** Largest block; larger requests fail (alloc throws, tryAlloc gives null) so the caller can fall back. Default 4 MiB. */
  maxBlockBytes?: number;
  /** Entries in the segment table. Default 1024. */
  maxSegments?: number;
  /**
   * trim() retires a segment only once it has been empty this long (ms).
   * Default 5000. Retiring is not free: the memory goes back only after a
   * garbage collection in every thread (a release round: layout.ts, H7), and a segment
   * needed again is a new SharedArrayBuffer.
   */
  retireAfterMs?: number;
}

/** What attach() needs: structured-cloneable (workerData, postMessage). */
export interface SharedHeapHandle {
  control: SharedArrayBuffer;
  channel: string;
  segments: SegmentGrant[];
}

/** The shared heap's state, in `pool.stats().heap`. @group Events and stats */
export interface SharedHeapStats {
  /** Bytes of segments created and not retired, by every thread. */
  bytes: number;
  /**
   * Bytes of retired segments whose memory may not be free yet: some thread may still hold them,
   * until each has collected its references. At most `maxBytes`; while it is there, the heap
   * retires nothing more (it reuses empty segments instead).
   */
  releasingBytes: number;
  /** The bound on `bytes` (option `heap.maxBytes`). */
  maxBytes: number;
  /** An idle heap shrinks to this or below (option `heap.floorBytes`). */
  floorBytes: number;
  /** The largest block (option `heap.maxBlockBytes`). */
  maxBlockBytes: number;
  /** Segments this thread holds. */
  segments: number;
  /**
   * Blocks allocated (or being allocated) in the segments this thread holds. Read one segment
   * after another while other threads allocate and free: a block that moves between segments
   * during the reading can be counted twice. Exact when no thread is allocating.
   */
  blocks: number;
}

const DEFAULT_MAX = 256 * 1024 * 1024;
const DEFAULT_FLOOR = 2 * 1024 * 1024;
const DEFAULT_MAX_BLOCK = 4 * 1024 * 1024;
const DEFAULT_SEGMENTS = 1024;
const DEFAULT_RETIRE_MS = 5000;

/**
 * Checks the options (a TypeError or RangeError naming the option: `${prefix}maxBytes`…) and
 * fills in the defaults. `prefix` is how the caller spells the options object ('options.heap.' for
 * a ThreadPool's).
 */
export function resolveHeapOptions(options: SharedHeapOptions, prefix = 'options.'): Required<SharedHeapOptions> {
  if (options === null || typeof options !== 'object') throw new TypeError(`${prefix.slice(0, -1)} must be an object`);
  const maxBytes = intOption(`${prefix}maxBytes`, options.maxBytes, DEFAULT_MAX, 64 * 1024, 2 ** 40);
  const floorBytes = intOption(`${prefix}floorBytes`, options.floorBytes, Math.min(DEFAULT_FLOOR, maxBytes), 0, maxBytes);
  const maxBlockBytes = intOption(`${prefix}maxBlockBytes`, options.maxBlockBytes, DEFAULT_MAX_BLOCK, 0, MAX_BLOCK_LIMIT);
  const maxSegments = intOption(`${prefix}maxSegments`, options.maxSegments, DEFAULT_SEGMENTS, 1, MAX_SEGMENTS);
  const retireAfterMs = intOption(`${prefix}retireAfterMs`, options.retireAfterMs, DEFAULT_RETIRE_MS, 0, 2 ** 31 - 1);
  const largest = segmentGeometry(classOf(maxBlockBytes), policyFor(maxBytes, maxBlockBytes));
  if (largest.byteLength > maxBytes) {
    throw new RangeError(
      `${prefix}maxBytes (${maxBytes}) must hold one segment of the largest blocks (${largest.byteLength} bytes for ${prefix}maxBlockBytes ${maxBlockBytes})`,
    );
  }
  return { maxBytes, floorBytes, maxBlockBytes, maxSegments, retireAfterMs };
}

function intOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number')
    throw new TypeError(`${name} must be an integer from ${min} to ${max}, got ${value === null ? 'null' : typeof value}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}
