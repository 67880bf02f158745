/**
 * The pool's shared heap as the main thread keeps it (heap/heap.ts; layout and
 * invariants H1–H6 in heap/layout.ts): created with the pool, handed to every
 * thread, shrunk while the pool is idle, closed with the pool.
 *
 * Shrinking. A timer (unref'd: it never keeps the process alive) calls
 * trim() while the heap is above its floor; trim() retires the segments that
 * stayed empty for retireAfterMs. A retired segment's memory goes back only
 * once every thread has dropped it (sync(), when it wakes) and collected it:
 * V8 counts SharedArrayBuffers in no garbage-collection trigger, and an idle
 * thread allocates nothing, so it would never collect. So after a retire this
 * thread lets its own copy go (releaseMemory()) and tells each pool thread to
 * do the same ('heap-trimmed', handled on its event loop, between tasks).
 *
 * A runtime that cannot read a BroadcastChannel synchronously (Deno) gets no
 * heap: payloads larger than a slot go by MessagePort, and alloc() throws.
 */
import { PoolClosedError } from '../errors.js';
import type { SegmentGrant } from '../../heap/directory.js';
import { SharedHeap } from '../../heap/heap.js';
import { NO_HEAP } from '../../heap/directory.js';
import type { SharedHeapOptions, SharedHeapStats } from '../../heap/options.js';

/** Longest pause between two trims (ms); shorter when retireAfterMs is short, so a retire is not late by more than it. */
const TRIM_EVERY_MS = 1000;
const TRIM_MIN_MS = 20;

export class HeapKeeper {
  /** undefined: this runtime cannot run one (see NO_HEAP). */
  readonly heap: SharedHeap | undefined;
  readonly #options: Required<SharedHeapOptions>;
  readonly #trimmed: () => void;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** `trimmed`: segments were retired — tell the pool's threads to let theirs go. */
  constructor(options: Required<SharedHeapOptions>, trimmed: () => void) {
    this.#options = options;
    this.#trimmed = trimmed;
    if (!SharedHeap.supported) return;
    this.heap = SharedHeap.create(options);
    const every = Math.max(TRIM_MIN_MS, Math.min(TRIM_EVERY_MS, options.retireAfterMs / 2));
    this.#timer = setInterval(() => this.trim(), every);
    this.#timer.unref();
  }

  /** One trim: retire what stayed empty long enough (never below the floor), then let the memory go everywhere. */
  trim(force = false): number {
    const heap = this.heap;
    if (heap === undefined || this.#closed || heap.bytes <= heap.floorBytes) return 0;
    const retired = heap.trim(force);
    if (retired > 0) {
      heap.releaseMemory();
      this.#trimmed();
    }
    return retired;
  }

  /** What a thread that joins gets (after it subscribed: see heap/heap.ts, "joining"). */
  grants(): SegmentGrant[] {
    return this.#closed || this.heap === undefined ? [] : this.heap.grants();
  }

  /** A thread died: repair what it left half done (a segment it was creating). */
  releaseThread(threadId: number): void {
    if (!this.#closed) this.heap?.releaseThread(threadId);
  }

  /** pool.alloc(): see thread-pool.ts and docs/pool.md. */
  alloc(byteLength: number): Uint8Array {
    if (typeof byteLength !== 'number') throw new TypeError(`byteLength must be an integer ≥ 0, got ${typeof byteLength}`);
    if (this.#closed) throw new PoolClosedError('alloc() after the pool closed: its shared heap is gone');
    if (this.heap === undefined) throw new Error(NO_HEAP);
    return this.heap.alloc(byteLength);
  }

  /** pool.free(): after close() the heap is gone and it does nothing (but still checks it was given a view). */
  free(view: ArrayBufferView): void {
    if (!ArrayBuffer.isView(view)) throw new TypeError(`free() takes a view returned by alloc(), got ${view === null ? 'null' : typeof view}`);
    if (this.#closed || this.heap === undefined) return;
    this.heap.free(view);
  }

  stats(): SharedHeapStats {
    if (this.heap !== undefined) return this.heap.stats();
    const { maxBytes, floorBytes, maxBlockBytes } = this.#options;
    return { bytes: 0, maxBytes, floorBytes, maxBlockBytes, segments: 0, blocks: 0 };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The pool is gone (no thread uses the heap any more): stop trimming, leave the heap's channel. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.heap?.close();
  }
}
