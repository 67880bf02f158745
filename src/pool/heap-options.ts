/** The shared heap's options, their defaults and checks, and the shapes it hands out (handle, stats). */
import { classOf, MAX_BLOCK_LIMIT, MAX_SEGMENTS, segmentGeometry } from './heap-layout.js';
import type { SegmentGrant } from './heap-directory.js';

export interface SharedHeapOptions {
  /** Bound on the bytes of all segments together. Default 256 MiB. */
  maxBytes?: number;
  /** trim() keeps at least this many bytes of segments. Default 1 MiB. */
  floorBytes?: number;
  /** Largest block; larger requests fail (alloc throws, tryAlloc gives null) so the caller can fall back. Default 4 MiB. */
  maxBlockBytes?: number;
  /** Entries in the segment table. Default 1024. */
  maxSegments?: number;
  /**
   * trim() retires a segment only once it has been empty this long (ms).
   * Default 5000. Retiring is not free: the memory goes back only after a
   * garbage collection in every thread (see releaseMemory()), and a segment
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

export interface SharedHeapStats {
  /** Bytes of segments created and not retired, by every thread. */
  bytes: number;
  maxBytes: number;
  floorBytes: number;
  maxBlockBytes: number;
  /** Segments this thread holds. */
  segments: number;
  /** Blocks allocated (or being allocated) in the segments this thread holds. */
  blocks: number;
}

const DEFAULT_MAX = 256 * 1024 * 1024;
const DEFAULT_FLOOR = 1024 * 1024;
const DEFAULT_MAX_BLOCK = 4 * 1024 * 1024;
const DEFAULT_SEGMENTS = 1024;
const DEFAULT_RETIRE_MS = 5000;

export function resolveHeapOptions(options: SharedHeapOptions): Required<SharedHeapOptions> {
  if (options === null || typeof options !== 'object') throw new TypeError('heap options must be an object');
  const maxBytes = intOption('maxBytes', options.maxBytes, DEFAULT_MAX, 64 * 1024, 2 ** 40);
  const floorBytes = intOption('floorBytes', options.floorBytes, Math.min(DEFAULT_FLOOR, maxBytes), 0, maxBytes);
  const maxBlockBytes = intOption('maxBlockBytes', options.maxBlockBytes, DEFAULT_MAX_BLOCK, 0, MAX_BLOCK_LIMIT);
  const maxSegments = intOption('maxSegments', options.maxSegments, DEFAULT_SEGMENTS, 1, MAX_SEGMENTS);
  const retireAfterMs = intOption('retireAfterMs', options.retireAfterMs, DEFAULT_RETIRE_MS, 0, 2 ** 31 - 1);
  const largest = segmentGeometry(classOf(maxBlockBytes));
  if (largest.byteLength > maxBytes) {
    throw new RangeError(`options.maxBytes (${maxBytes}) must hold one segment of the largest blocks (${largest.byteLength} bytes for maxBlockBytes ${maxBlockBytes})`);
  }
  return { maxBytes, floorBytes, maxBlockBytes, maxSegments, retireAfterMs };
}

function intOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`options.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}
