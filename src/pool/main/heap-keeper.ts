/**
 * The pool's shared heap as the main thread keeps it (heap/heap.ts; layout and
 * invariants H1–H8 in heap/layout.ts): created with the pool, handed to every
 * thread, shrunk while the pool is idle, its retired memory released, closed
 * with the pool.
 *
 * Shrinking. A timer (unref'd: it never keeps the process alive) calls
 * trim() while the heap is above its floor; trim() retires the segments that
 * stayed empty for retireAfterMs.
 *
 * Release rounds (H7). A retired segment's memory goes back only once every
 * thread has dropped it and collected its objects for it: V8 counts
 * SharedArrayBuffers in no garbage-collection trigger, and an idle thread
 * allocates nothing, so it would never collect. The heap bounds what is
 * retired and not yet known collected (`releasingBytes` ≤ maxBytes: it
 * retires nothing more until then), and this keeper empties it: whenever a
 * thread retired something (trim() here, or a thread that made room at the
 * bound: 'heap-retired'), it begins a round, asks every thread to collect
 * ('heap-release', handled on its event loop, between tasks), collects here,
 * and ends the round when all have answered ('heap-released') or exited.
 * Rounds are at least ROUND_GAP_MS apart: each costs every thread a full
 * garbage collection.
 *
 * A runtime that cannot read a BroadcastChannel synchronously (Deno) gets no
 * heap: payloads larger than a slot go by MessagePort, and alloc() throws.
 */
import { PoolClosedError } from '../errors.js';
import type { HeldSegment, SegmentGrant } from '../../heap/directory.js';
import { SharedHeap } from '../../heap/heap.js';
import { NO_HEAP } from '../../heap/directory.js';
import type { SharedHeapOptions, SharedHeapStats } from '../../heap/options.js';

/** Longest pause between two trims (ms); shorter when retireAfterMs is short, so a retire is not late by more than it. */
const TRIM_EVERY_MS = 1000;
const TRIM_MIN_MS = 20;
/** Shortest time from one release round's start to the next one's (ms). */
const ROUND_GAP_MS = 50;
/**
 * With nothing newly retired but segments found still held (a view kept after free()…), the next
 * round that looks at them again comes after this long (ms), doubling while they stay held up to
 * HELD_RECHECK_MAX_MS: each such round costs the thread that holds them a full collection.
 */
const HELD_RECHECK_MS = 1000;
const HELD_RECHECK_MAX_MS = 60_000;

interface Round {
  token: number;
  /** threadIds of the threads that have not answered (or exited) yet. */
  waiting: Set<number>;
  /** This thread has collected. */
  here: boolean;
  /** Retired segments some thread reported it still holds. */
  held: HeldSegment[];
}

export class HeapKeeper {
  /** undefined: this runtime cannot run one (see NO_HEAP). */
  readonly heap: SharedHeap | undefined;
  readonly #options: Required<SharedHeapOptions>;
  /** Asks every pool thread to collect ('heap-release'); returns the threadIds of all threads alive (see askThreadsWith). */
  #askThreads: () => Iterable<number> = () => [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #round: Round | undefined;
  #lastRound = -Infinity;
  #roundTimer: NodeJS.Timeout | undefined;
  /** When a round may look at held segments again, with nothing newly retired; and the pause after that. */
  #heldRecheckAt = 0;
  #heldRecheckMs = HELD_RECHECK_MS;

  constructor(options: Required<SharedHeapOptions>) {
    this.#options = options;
    if (!SharedHeap.supported) return;
    const heap = SharedHeap.create(options);
    this.heap = heap;
    // A retire here happens inside an allocation (or a trim): the round starts once that is over.
    heap.onRetire = () => queueMicrotask(() => this.releaseRound());
    const every = Math.max(TRIM_MIN_MS, Math.min(TRIM_EVERY_MS, options.retireAfterMs / 2));
    this.#timer = setInterval(() => this.trim(), every);
    this.#timer.unref();
  }

  /** How a release round reaches the pool's threads (they are created after the heap they are given). */
  askThreadsWith(askThreads: () => Iterable<number>): void {
    this.#askThreads = askThreads;
  }

  /** One trim: retire what stayed empty long enough (never below the floor); a round then lets the memory go. */
  trim(force = false): number {
    const heap = this.heap;
    if (heap === undefined || this.#closed) return 0;
    const retired = heap.bytes <= heap.floorBytes ? 0 : heap.trim(force);
    if (heap.releasePending) {
      this.releaseRound(); // also catches a thread's ask that did not arrive
    } else if (heap.heldBytes > 0 && this.#round === undefined && performance.now() >= this.#heldRecheckAt) {
      // Only held segments: look again, less and less often while they stay held.
      this.#heldRecheckAt = performance.now() + this.#heldRecheckMs;
      this.#heldRecheckMs = Math.min(HELD_RECHECK_MAX_MS, this.#heldRecheckMs * 2);
      this.releaseRound(true);
    }
    return retired;
  }

  /**
   * Begins a release round now, or once the current one ends, or ROUND_GAP_MS after the last one
   * began — if something was retired since the last one (or `forHeld`: to look at held segments again).
   */
  releaseRound(forHeld = false): void {
    const heap = this.heap;
    if (heap === undefined || this.#closed || this.#round !== undefined || this.#roundTimer !== undefined) return;
    if (!heap.releasePending && !(forHeld && heap.heldBytes > 0)) return;
    const wait = this.#lastRound + ROUND_GAP_MS - performance.now();
    if (wait > 0) {
      this.#roundTimer = setTimeout(() => {
        this.#roundTimer = undefined;
        this.releaseRound(forHeld);
      }, wait);
      this.#roundTimer.unref();
      return;
    }
    this.#lastRound = performance.now();
    // The token first: every thread asked below collects after it.
    const round: Round = { token: heap.beginRelease(), waiting: new Set(this.#askThreads()), here: false, held: [] };
    this.#round = round;
    heap.collect().then((held) => {
      round.here = true;
      round.held.push(...held);
      this.#maybeEnd(round);
    });
  }

  /** Thread `threadId` answered the round ('heap-released'), still holding `held`. */
  released(threadId: number, held: readonly HeldSegment[] = []): void {
    const round = this.#round;
    if (round === undefined || !round.waiting.delete(threadId)) return;
    if (Array.isArray(held)) round.held.push(...held.filter(isHeld));
    this.#maybeEnd(round);
  }

  /** What a thread that joins gets (after it subscribed: see heap/heap.ts, "joining"). */
  grants(): SegmentGrant[] {
    return this.#closed || this.heap === undefined ? [] : this.heap.grants();
  }

  /** A thread exited: repair what it left half done (a segment it was creating); its objects are gone with it. */
  releaseThread(threadId: number): void {
    if (this.#closed) return;
    this.heap?.releaseThread(threadId);
    this.released(threadId);
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
    return { bytes: 0, releasingBytes: 0, maxBytes, floorBytes, maxBlockBytes, segments: 0, blocks: 0 };
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
    clearTimeout(this.#roundTimer);
    this.#roundTimer = undefined;
    this.#round = undefined;
    this.heap?.close();
  }

  #maybeEnd(round: Round): void {
    if (this.#round !== round || !round.here || round.waiting.size > 0) return;
    this.#round = undefined;
    if (this.#closed) return;
    this.heap!.endRelease(round.token, round.held);
    if (this.heap!.heldBytes === 0) this.#heldRecheckMs = HELD_RECHECK_MS;
    this.releaseRound(); // retired meanwhile: another round
  }
}

/** A thread's report, checked: it only ever keeps memory counted, but a bad one must not throw here. */
function isHeld(h: unknown): h is HeldSegment {
  return (
    h !== null &&
    typeof h === 'object' &&
    typeof (h as HeldSegment).key === 'string' &&
    Number.isInteger((h as HeldSegment).kb) &&
    (h as HeldSegment).kb > 0
  );
}
