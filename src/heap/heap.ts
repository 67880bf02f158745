/**
 * SharedHeap — blocks of shared memory that every thread of a pool can
 * allocate from and free into, concurrently and without a lock (the layout
 * and its invariants H1–H6 are in layout.ts).
 *
 * Segments. A segment is a SharedArrayBuffer of blocks of one size class.
 * The heap grows by adding segments (any thread may) up to `maxBytes`; at
 * the bound, an empty segment of another class is reformatted for the class
 * that needs room (grow.ts), and trim() retires segments that stayed empty,
 * down to `floorBytes` or below. Node 20 also has growable
 * SharedArrayBuffers (`new SharedArrayBuffer(n, { maxByteLength })`), which
 * every thread sees grow without a message — but they never shrink, and an
 * idle pool must give its memory back.
 *
 * Giving memory back (H7). A retired segment's memory is freed only when
 * every thread's objects for it have been garbage-collected, and V8 counts
 * SharedArrayBuffers in no collection trigger. So the heap bounds what it
 * retires and cannot yet know collected (limbo, at most `maxBytes`), and a
 * release round empties it: the owner calls beginRelease(), every thread
 * collect()s, the owner calls endRelease(). onRetire says when a round is
 * due. (The pool runs them: pool/main/heap-keeper.ts.)
 *
 * How a thread learns of a segment (H1). Another thread can only receive a
 * SharedArrayBuffer in a message. Every thread subscribes to the heap's
 * BroadcastChannel; a creator posts the new buffer on it, which queues it in
 * every subscriber at once, and only then publishes it in the table. A
 * thread that meets a segment it does not hold — a reference in a task, a
 * table entry — takes its queued messages synchronously with
 * receiveMessageOnPort. When its event loop runs, the channel's message
 * event adopts them too.
 *
 * Joining. A thread that subscribes after a segment was posted never gets
 * that message. It attaches with the segments its creator held (the
 * `handle`), and before it reads any reference it must also adopt the
 * grants() of a thread that subscribed earlier, taken *after* it
 * subscribed: everything posted before its subscription is in that list,
 * everything after reaches its channel. (The pool does this with one
 * message at a thread's start.)
 *
 * Thread death. worker.terminate() can stop a thread between two atomic
 * operations. A block it had taken and not yet handed to anyone is lost
 * (counted in G_OCC until its segment's other blocks are freed, which keeps
 * that one segment alive); a segment it was creating is repaired by
 * releaseThread(threadId). Nothing can be left locked: there is no lock.
 *
 * The control block's making and checking (create, attach) are control.ts's.
 */
import { randomUUID } from 'node:crypto';
import { channelsReadable, type HeldSegment, type SegmentGrant, SegmentDirectory } from './directory.js';
import { checkControl, makeControl } from './control.js';
import { classOf, G_OCC, H_FLOOR_KB, H_MAX_KB, H_TOTAL_KB, OCC_COUNT, type SegmentPolicy, segmentGeometry } from './layout.js';
import { HeapGrower } from './grow.js';
import { type HeapSegment, isTaken, markLength, release, take, unmarkLength } from './segment.js';
import { HeapShrinker } from './shrink.js';
import { resolveHeapOptions, type SharedHeapHandle, type SharedHeapOptions, type SharedHeapStats } from './options.js';

export type { HeapSegment } from './segment.js';
export type { HeldSegment, SegmentGrant } from './directory.js';
export type { SharedHeapHandle, SharedHeapOptions, SharedHeapStats } from './options.js';

export class SharedHeap {
  readonly control: SharedArrayBuffer;
  readonly channel: string;
  readonly maxBlockBytes: number;
  /** The segment of the last successful allocRaw(): read it right after the call. */
  lastSegment: HeapSegment | undefined;

  readonly #c: Int32Array;
  readonly #dir: SegmentDirectory;
  readonly #grow: HeapGrower;
  readonly #policy: SegmentPolicy;
  readonly #shrink: HeapShrinker;

  /** Whether this runtime can run a shared heap (see channelsReadable() in directory.ts). */
  static get supported(): boolean {
    return channelsReadable();
  }

  /** A new heap, owned by this thread (the pool's main thread). */
  static create(options: SharedHeapOptions = {}): SharedHeap {
    const control = makeControl(resolveHeapOptions(options));
    return new SharedHeap({ control, channel: `iocp-pool-heap:${randomUUID()}`, segments: [] });
  }

  /** Attaches to a heap in this thread (see "Joining" above for the grants a late thread also needs). */
  static attach(handle: SharedHeapHandle): SharedHeap {
    if (handle === null || typeof handle !== 'object') throw new TypeError('heap handle must be an object from SharedHeap.handle');
    return new SharedHeap(handle);
  }

  private constructor(handle: SharedHeapHandle) {
    // Nothing in a handle is trusted (control.ts).
    const { control, channel, c, entries, maxBlock, policy } = checkControl(handle);
    this.control = control;
    this.channel = channel;
    this.maxBlockBytes = maxBlock;
    this.#c = c;
    this.#dir = new SegmentDirectory(c, entries, channel);
    this.#policy = policy;
    this.#grow = new HeapGrower(c, entries, this.#dir, policy);
    this.#shrink = new HeapShrinker(c, entries, this.#dir);
    if (Array.isArray(handle.segments)) this.#dir.adopt(handle.segments);
    this.#dir.sync();
  }

  /** The handle to give another thread: the control block, the channel and the segments this thread holds. */
  get handle(): SharedHeapHandle {
    return { control: this.control, channel: this.channel, segments: this.grants() };
  }

  /** Segments this thread holds (after taking what its channel has queued): what a joining thread adopts. */
  grants(): SegmentGrant[] {
    return this.#dir.grants();
  }

  /** Takes segments handed over by another thread's grants(); stale or invalid ones are ignored. */
  adopt(grants: readonly SegmentGrant[]): void {
    this.#dir.adopt(grants);
    this.#dir.sync();
  }

  /**
   * Catches up with the table: adopts queued segments, drops retired ones.
   * One Atomics.load when nothing changed; call it where a thread resumes work.
   */
  sync(): void {
    this.#dir.sync();
  }

  // ───────────────────────────── allocation ─────────────────────────────

  /**
   * A block of at least n bytes: its byte offset in `lastSegment`, or -1 when
   * n is above maxBlockBytes or the heap is at maxBytes. No allocation, no lock.
   */
  allocRaw(n: number): number {
    if (!(n >= 0 && n <= this.maxBlockBytes)) return -1;
    const cls = classOf(n);
    const seg = this.#dir.current[cls];
    if (seg !== undefined) {
      const off = take(seg);
      if (off >= 0) {
        this.lastSegment = seg;
        return off;
      }
    }
    return this.#allocSlow(cls);
  }

  /** A Uint8Array of byteLength bytes over the heap; null when the heap cannot serve it (too large, or full). */
  tryAlloc(byteLength: number): Uint8Array | null {
    checkLength(byteLength);
    const off = this.allocRaw(byteLength);
    if (off < 0) return null;
    const seg = this.lastSegment!;
    markLength(seg, (off - seg.dataOffset) / seg.blockBytes, byteLength); // free() takes exactly this view back (H3)
    return new Uint8Array(seg.buffer, off, byteLength);
  }

  /** A Uint8Array of byteLength bytes over the heap; a RangeError when the heap cannot serve it. */
  alloc(byteLength: number): Uint8Array {
    const view = this.tryAlloc(byteLength);
    if (view === null) {
      throw new RangeError(
        byteLength > this.maxBlockBytes
          ? `byteLength ${byteLength} is above the shared heap's largest block (${this.maxBlockBytes} bytes)`
          : `the shared heap is full (${this.stats().bytes} of ${this.#c[H_MAX_KB]! * 1024} bytes)`,
      );
    }
    return view;
  }

  /**
   * Gives back a view from alloc(): exactly such a view (its segment, its block's offset, the
   * byteLength alloc() was asked for — any view type), else a TypeError; so is a second free.
   */
  free(view: ArrayBufferView): void {
    if (!ArrayBuffer.isView(view)) throw new TypeError('free() takes a view returned by alloc()');
    const seg = this.#dir.segmentOf(view.buffer);
    if (seg === undefined) throw new TypeError('free(): this view is not from this shared heap');
    const rel = view.byteOffset - seg.dataOffset;
    const k = rel / seg.blockBytes;
    if (!(rel >= 0 && Number.isInteger(k) && k < seg.blocks && view.byteLength <= seg.blockBytes)) {
      throw new TypeError('free(): this view is not a block returned by alloc() (a subarray, or another offset)');
    }
    if (!unmarkLength(seg, k, view.byteLength)) {
      if (!isTaken(seg, k)) throw new TypeError('free(): this block is already free (freed twice?)');
      throw new TypeError(
        'free(): this view is not a block returned by alloc() (a subarray, another length, a block alloc() did not hand out, or one being freed)',
      );
    }
    release(seg, k);
  }

  /** Frees the block at `offset` of the segment named by segWord (a reference read from shared memory: checked). */
  freeRaw(segWord: number, offset: number): void {
    const seg = this.resolve(segWord, offset, 0);
    const rel = offset - seg.dataOffset;
    if (rel % seg.blockBytes !== 0) throw new RangeError(`heap reference ${offset} is not the start of a block`);
    release(seg, rel / seg.blockBytes);
  }

  /**
   * The segment of a reference (segWord, offset, byteLength) read from shared
   * memory, after checking it (H6): a segment this thread can hold, of that
   * generation, and [offset, offset + byteLength) inside one allocated block.
   * A RangeError otherwise.
   */
  resolve(segWord: number, offset: number, byteLength: number): HeapSegment {
    const seg = this.#dir.lookup(segWord);
    if (seg === undefined)
      throw new RangeError(`heap reference names segment ${segWord & 0xffff} (generation ${segWord >>> 16}), which this thread does not hold`);
    const rel = offset - seg.dataOffset;
    if (!(rel >= 0 && byteLength >= 0 && (rel | 0) === rel)) throw new RangeError(`heap reference (${offset}, ${byteLength}) is outside its segment`);
    const k = Math.floor(rel / seg.blockBytes);
    if (k >= seg.blocks || rel + byteLength > (k + 1) * seg.blockBytes) {
      throw new RangeError(`heap reference (${offset}, ${byteLength}) is outside its block`);
    }
    if (!isTaken(seg, k)) throw new RangeError(`heap reference (${offset}, ${byteLength}) names a free block`);
    return seg;
  }

  /** The segment a buffer is (or is a copy of, sent by postMessage); undefined for any other buffer. */
  segmentOf(buffer: ArrayBufferLike): HeapSegment | undefined {
    return this.#dir.segmentOf(buffer);
  }

  // ───────────────────────────── shrinking ─────────────────────────────

  /**
   * Retires segments that have stayed empty for retireAfterMs (a block taken
   * in between restarts the clock), keeping floorBytes; with `force`, every
   * empty segment now. Returns the bytes retired. See shrink.ts.
   */
  trim(force = false): number {
    const retired = this.#shrink.trim(force);
    if (this.lastSegment !== undefined && !this.lastSegment.live) this.lastSegment = undefined;
    return retired;
  }

  /**
   * This thread's part of a release round (H7): drops the segments no longer in the table, has
   * its objects for them collected (it asks for a collection and waits a moment), and resolves
   * with the retired segments it still holds. See directory.ts.
   */
  collect(): Promise<HeldSegment[]> {
    this.#dir.sync(true);
    if (this.lastSegment !== undefined && !this.lastSegment.live) this.lastSegment = undefined; // before the collection
    return this.#dir.collect();
  }

  /** H7: begins a release round; returns the token for endRelease(). One round at a time, by one thread. */
  beginRelease(): number {
    return this.#shrink.beginRelease();
  }

  /**
   * H7: every thread has finished a collect() called after beginRelease(), and `held` is the
   * union of what they reported (each segment once): the rest of the memory retired before the
   * round is gone. Returns its bytes.
   */
  endRelease(token: number, held: Iterable<HeldSegment> = []): number {
    const seen = new Map<string, number>();
    for (const h of held) seen.set(h.key, h.kb);
    let kb = 0;
    for (const k of seen.values()) kb += k;
    return this.#shrink.endRelease(token, kb);
  }

  /** Whether segments were retired since the last round ended. */
  get releasePending(): boolean {
    return this.#shrink.releasePending;
  }

  /** Bytes of retired segments the last round found still held somewhere (counted until a round finds them gone). */
  get heldBytes(): number {
    return this.#shrink.heldBytes;
  }

  /** Called after this thread retired a segment, at most once per release round: time for one. */
  set onRetire(callback: (() => void) | undefined) {
    this.#shrink.onRetire = callback;
  }

  /** Repairs what a thread that died (terminate) left half done: a segment it was creating. */
  releaseThread(deadThreadId: number): void {
    this.#shrink.releaseThread(deadThreadId);
  }

  /** Bytes of segments created and not retired, by every thread (one load). */
  get bytes(): number {
    return Atomics.load(this.#c, H_TOTAL_KB) * 1024;
  }

  /** trim() retires only while the heap is above this many bytes. */
  get floorBytes(): number {
    return this.#c[H_FLOOR_KB]! * 1024;
  }

  stats(): SharedHeapStats {
    this.#dir.sync();
    const c = this.#c;
    let segments = 0;
    let blocks = 0;
    for (const s of this.#dir.segments) {
      if (s === undefined) continue;
      segments++;
      blocks += Atomics.load(s.i32, G_OCC) & OCC_COUNT;
    }
    return {
      bytes: Atomics.load(c, H_TOTAL_KB) * 1024,
      releasingBytes: this.#shrink.limboBytes,
      maxBytes: c[H_MAX_KB]! * 1024,
      floorBytes: c[H_FLOOR_KB]! * 1024,
      maxBlockBytes: this.maxBlockBytes,
      segments,
      blocks,
    };
  }

  /** This thread stops using the heap: leaves the channel and drops its segments (their blocks stay where they are). */
  close(): void {
    this.#dir.close();
    this.lastSegment = undefined;
  }

  // ───────────────────────────── internals ─────────────────────────────

  #allocSlow(cls: number): number {
    const dir = this.#dir;
    dir.sync();
    for (let pass = 0; pass < 2; pass++) {
      for (const seg of dir.byClass[cls]!) {
        const off = take(seg);
        if (off >= 0) return this.#took(cls, seg, off);
      }
      // Under the bound a new segment; at it, an empty one of another class, reformatted (H8); failing
      // both, empty segments retired to make room (H7 permitting).
      let seg = this.#grow.grow(cls) ?? this.#grow.reformat(cls);
      if (seg === undefined && pass === 0 && this.#shrink.reclaim(segmentGeometry(cls, this.#policy).kb) > 0) seg = this.#grow.grow(cls);
      if (seg !== undefined) {
        const off = take(seg);
        if (off >= 0) return this.#took(cls, seg, off);
      }
      if (seg === undefined) break;
    }
    return -1;
  }

  #took(cls: number, seg: HeapSegment, off: number): number {
    this.#dir.current[cls] = seg;
    this.lastSegment = seg;
    return off;
  }
}

function checkLength(byteLength: number): void {
  if (typeof byteLength !== 'number' || !Number.isInteger(byteLength) || byteLength < 0) {
    throw new RangeError(`byteLength must be an integer ≥ 0, got ${String(byteLength)}`);
  }
}
