/**
 * The heap's CONTROL block (its words: layout.ts): written once by the thread that creates the
 * heap, and checked by every thread that attaches to it. An attaching thread trusts nothing in
 * the handle it is given: a buffer too small, of another magic or version, with a segment table
 * or block bound out of range, or a segment geometry it cannot decode is a TypeError — before any
 * of its words is used to size a table or address memory.
 *
 * Apart from heap.ts, which allocates and frees in a heap once it has one: this is how a thread
 * gets one, and runs once per thread.
 */
import {
  controlBytes,
  decodePolicy,
  encodePolicy,
  H_FLOOR_KB,
  H_GEOMETRY,
  H_MAGIC,
  H_MAX_BLOCK,
  H_MAX_KB,
  H_RETIRE_MS,
  H_SEGMENTS,
  H_VERSION,
  HEAP_MAGIC,
  HEAP_VERSION,
  MAX_BLOCK_LIMIT,
  MAX_SEGMENTS,
  policyFor,
  type SegmentPolicy,
} from './layout.js';
import type { SharedHeapHandle, SharedHeapOptions } from './options.js';

/** A new control block for a heap with these (resolved) options; the rest of its words start at 0. */
export function makeControl(options: Required<SharedHeapOptions>): SharedArrayBuffer {
  const { maxBytes, floorBytes, maxBlockBytes, maxSegments, retireAfterMs } = options;
  const control = new SharedArrayBuffer(controlBytes(maxSegments));
  const c = new Int32Array(control);
  c[H_MAGIC] = HEAP_MAGIC;
  c[H_VERSION] = HEAP_VERSION;
  c[H_SEGMENTS] = maxSegments;
  c[H_MAX_KB] = Math.floor(maxBytes / 1024);
  c[H_FLOOR_KB] = Math.ceil(floorBytes / 1024);
  c[H_MAX_BLOCK] = maxBlockBytes;
  c[H_RETIRE_MS] = retireAfterMs;
  c[H_GEOMETRY] = encodePolicy(policyFor(maxBytes, maxBlockBytes));
  return control;
}

/** A control block, checked: its words, its segment table's entries, its largest block, and how it sizes new segments. */
export interface CheckedControl {
  readonly control: SharedArrayBuffer;
  readonly channel: string;
  readonly c: Int32Array;
  readonly entries: number;
  readonly maxBlock: number;
  readonly policy: SegmentPolicy;
}

/** Checks the control block and channel of `handle` (see above); a TypeError when it is not a heap's. */
export function checkControl(handle: SharedHeapHandle): CheckedControl {
  const { control, channel } = handle;
  if (!(control instanceof SharedArrayBuffer) || control.byteLength < controlBytes(1) || typeof channel !== 'string') {
    throw new TypeError('not a shared heap handle');
  }
  const c = new Int32Array(control);
  const entries = c[H_SEGMENTS]!;
  if (
    c[H_MAGIC] !== HEAP_MAGIC ||
    c[H_VERSION] !== HEAP_VERSION ||
    !(entries >= 1 && entries <= MAX_SEGMENTS) ||
    control.byteLength !== controlBytes(entries)
  ) {
    throw new TypeError('not a shared heap handle (bad control block)');
  }
  const maxBlock = c[H_MAX_BLOCK]!;
  if (!(maxBlock >= 0 && maxBlock <= MAX_BLOCK_LIMIT)) throw new TypeError('not a shared heap handle (bad block bound)');
  const policy = decodePolicy(c[H_GEOMETRY]!);
  if (policy === undefined) throw new TypeError('not a shared heap handle (bad segment geometry)');
  return { control, channel, c, entries, maxBlock, policy };
}
