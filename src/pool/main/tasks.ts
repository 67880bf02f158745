/**
 * The pool's run() tasks as the main thread sees them: the arena's slots, the
 * backlog of tasks waiting for one, and the one place where a run() settles.
 *
 * A task lives in one arena slot from submission until its result has been
 * read back (pool/layout.ts states the slot's words and invariants A1–A7).
 * This class alone allocates and frees slots (A1): a free stack in this
 * thread's memory, LIFO so the slot just freed is still in cache. What belongs
 * to a task but cannot live in shared memory — its promise's functions, its
 * AbortSignal, a payload too large for the heap — is kept here, per slot, in
 * private arrays nobody else writes.
 *
 * Helpers, a file each: capture.ts (a promise's functions without a closure), fallback.ts
 * (writing a task, or keeping it to travel by message), backlog.ts (tasks waiting for a slot,
 * settled there too), cancel.ts (a queued task's cancelling race), owned.ts (a dead thread's).
 *
 * Invariants:
 *  T1  Every accepted run() resolves or rejects exactly once, in #outcome(),
 *      which also counts it (completed or failed). A slot's promise functions
 *      are taken out of their arrays before they are called, so a second
 *      settle of the same slot finds none and does nothing.
 *  T2  A slot is released (freed, A1) only once no packet names it any more:
 *      by its result (settle), its acknowledgement (acknowledge), or when
 *      its thread is gone (failOwned, rejectAll). A task settled early — its
 *      signal aborted before it started, or its timeout passed — keeps its
 *      slot until then.
 */
import type { TransferListItem } from 'node:worker_threads';
import type { CompletionPacket, CompletionPort } from '../../port/index.js';
import type { SlotCodec } from '../../codec/slot-codec.js';
import { AbortError } from '../errors.js';
import {
  A_INFLIGHT,
  A_STARTED,
  F_SIGNAL,
  F_TIMED,
  FREE,
  HANDLER_SHIFT,
  K_TASK,
  QUEUED,
  slotWord,
  T_FLAGS,
  T_OWNER,
  T_STATE,
  T_TICKET,
} from '../layout.js';
import { Backlog, type Backlogged } from './backlog.js';
import { capture, capturedReject, capturedResolve, type Reject, type Resolve } from './capture.js';
import { abortSlot, type CancellableSlots, cancelQueuedSlots } from './cancel.js';
import { type FallbackPayload, FallbackPayloads } from './fallback.js';
import { type OwnedSlots, settleOwned } from './owned.js';
import { SignalWatch } from './signals.js';
import { type ExtrasHost, ExtrasTable, type TaskExtras } from './task-extras.js';

export type { TaskExtras } from './task-extras.js';

/** What the table asks of the pool's threads (main/threads.ts ThreadSet): what the extras ask (abort, stop, listen for progress). */
export type TaskThreads = ExtrasHost['threads'];

export class TaskTable implements OwnedSlots, CancellableSlots {
  readonly slots: number;
  readonly slotBytes: number;
  readonly arena: SlotCodec;
  readonly #i32: Int32Array;
  readonly #taskPort: CompletionPort;
  readonly #threads: TaskThreads;
  readonly #concurrency: number;

  // Per slot, in this thread's memory (A1): the promise's functions (T1) and the task's signal.
  readonly #resolve: (Resolve | undefined)[];
  readonly #reject: (Reject | undefined)[];
  readonly #signal: (AbortSignal | undefined)[];
  /** The 'abort' listeners: one per distinct signal, keyed by slot (submitted) or entry (backlogged). */
  readonly #signals = new SignalWatch((key, signal) => {
    if (typeof key === 'number') abortSlot(this, this.#threads, key, signal);
    else this.#backlog.abort(key as Backlogged, signal);
  });
  /** Wall-clock ms at submission, for tasks whose timing is sampled (F_TIMED). */
  readonly #submittedAt: Float64Array;
  /** performance.now() at post, for tasks posted while few were in flight (0: not sampled); see spin-policy.ts. */
  readonly #postedAt: Float64Array;
  /** Timeouts and onProgress of the tasks that have them; orphans (settled by a timeout, result not come). */
  readonly #extras: ExtrasTable;
  /** Payloads that travel by MessagePort (too large for the heap, a transferList…), by slot. */
  readonly #fallback: FallbackPayloads;
  readonly #free: Int32Array;
  #freeTop: number;
  /** Slots in use: their result (or acknowledgement) has not been read yet. */
  #inflight = 0;
  /** run() tasks waiting for a slot; one that settles there (abort, close, destroy) settles in #outcome (T1). */
  readonly #backlog = new Backlog(this.#signals, (entry, error) => this.#outcome(entry.resolve, entry.reject, false, error));
  /** Task packets posted, and tasks cancelled before they started: maxQueue accounting with A_STARTED. */
  #posted = 0;
  #cancelled = 0;
  #timedCount = 0;
  /** Submissions so far (wraps): each task's T_TICKET, so a packet or an abort names the task and not just its slot. */
  #tickets = 0;
  /** run() outcomes, for stats() (T1). */
  #completed = 0;
  #failed = 0;

  constructor(arena: SlotCodec, taskPort: CompletionPort, threads: TaskThreads, concurrency: number) {
    this.arena = arena;
    this.#i32 = arena.i32;
    this.slots = arena.slots;
    this.slotBytes = arena.slotBytes;
    this.#taskPort = taskPort;
    this.#threads = threads;
    this.#concurrency = concurrency;
    const slots = arena.slots;
    this.#resolve = new Array(slots).fill(undefined);
    this.#reject = new Array(slots).fill(undefined);
    this.#signal = new Array(slots).fill(undefined);
    this.#submittedAt = new Float64Array(slots);
    this.#fallback = new FallbackPayloads(arena);
    this.#postedAt = new Float64Array(slots);
    this.#extras = new ExtrasTable({
      slots,
      slotBytes: this.slotBytes,
      i32: arena.i32,
      f64: arena.f64,
      waiting: (slot) => this.#reject[slot] !== undefined,
      expire: (slot, error) => this.#settleEarly(slot, error),
      threads,
    });
    this.#free = new Int32Array(slots);
    for (let i = 0; i < slots; i++) this.#free[i] = slots - 1 - i; // slot 0 on top
    this.#freeTop = slots;
  }

  // ─────────────────────────────── counts ───────────────────────────────

  /** Slots in use: tasks whose result (or acknowledgement) has not been read. */
  get inflight(): number {
    return this.#inflight;
  }

  get completed(): number {
    return this.#completed;
  }

  get failed(): number {
    return this.#failed;
  }

  /** No task waits in the backlog. */
  get backlogEmpty(): boolean {
    return this.#backlog.empty;
  }

  /** Tasks waiting in the backlog (not yet in a slot). */
  get backlogged(): number {
    return this.#backlog.size;
  }

  /** Tasks accepted and not yet started (maxQueue): backlog + posted − started − cancelled before starting. */
  queued(): number {
    const inPort = (this.#posted - Atomics.load(this.#i32, A_STARTED) - this.#cancelled) | 0;
    return this.#backlog.size + Math.max(0, inPort);
  }

  // ─────────────────────────────── submit ───────────────────────────────

  /**
   * Accepts a task: into a free slot at once if none waits ahead of it, else into the backlog. A
   * signal already aborted settles it at once (an AbortError), without a slot.
   */
  add(
    task: unknown,
    handler: number,
    signal: AbortSignal | undefined,
    transferList: readonly TransferListItem[] | undefined,
    extras: TaskExtras | undefined,
  ): Promise<unknown> {
    const promise = new Promise<unknown>(capture);
    const resolve = capturedResolve!;
    const reject = capturedReject!;
    if (signal?.aborted) {
      this.#outcome(resolve, reject, false, new AbortError(signal.reason));
    } else if (this.#freeTop > 0 && this.#backlog.empty) {
      const slot = this.#free[--this.#freeTop]!;
      this.#resolve[slot] = resolve;
      this.#reject[slot] = reject;
      this.#submit(slot, task, handler, signal, transferList, extras);
    } else {
      this.#backlog.push({ task, extras, handler, signal, transferList, resolve, reject, done: false });
    }
    return promise;
  }

  /** Moves backlogged tasks into free slots, oldest first. */
  pump(): void {
    while (this.#freeTop > 0) {
      const entry = this.#backlog.shift();
      if (entry === undefined) break;
      const slot = this.#free[--this.#freeTop]!;
      this.#resolve[slot] = entry.resolve;
      this.#reject[slot] = entry.reject;
      this.#submit(slot, entry.task, entry.handler, entry.signal, entry.transferList, entry.extras);
    }
    this.#backlog.compact();
  }

  /** The slot is ours, its promise functions are set: write the task, post its packet. */
  #submit(
    slot: number,
    task: unknown,
    handler: number,
    signal: AbortSignal | undefined,
    transferList: readonly TransferListItem[] | undefined,
    extras: TaskExtras | undefined,
  ): void {
    const i32 = this.#i32;
    const w = slotWord(this.slotBytes, slot);
    // From here the slot is in use; release() gives it back. The shared copy is a hint (plain store).
    i32[A_INFLIGHT] = ++this.#inflight;
    // The common path: the slot or a heap block takes the task. Anything else — too large for
    // the heap, a transferList, a value the codec refuses — travels by message (fallback.ts).
    const unsent = this.#fallback.write(slot, w, task, transferList);
    if (unsent !== undefined) {
      this.settle(slot, false, unsent);
      return;
    }
    let flags = handler << HANDLER_SHIFT;
    if (signal !== undefined) {
      flags |= F_SIGNAL;
      this.#signal[slot] = signal;
      this.#signals.add(signal, slot);
    }
    // Timing costs two clock reads per task: sample all of the first 64, then one in 16.
    const n = this.#timedCount++;
    if (n < 64 || (n & 15) === 0) {
      flags |= F_TIMED;
      this.#submittedAt[slot] = performance.timeOrigin + performance.now();
    }
    const ticket = (this.#tickets = (this.#tickets + 1) | 0);
    if (extras !== undefined) flags |= this.#extras.set(slot, w, ticket, extras);
    i32[w + T_FLAGS] = flags;
    i32[w + T_TICKET] = ticket;
    // No thread holds it yet (a thread names itself here when it takes the packet: A6).
    i32[w + T_OWNER] = 0;
    // Few in flight: one-at-a-time territory, where the round trip is worth measuring (spin-policy.ts).
    this.#postedAt[slot] = this.#inflight <= this.#concurrency ? performance.now() : 0;
    Atomics.store(i32, w + T_STATE, QUEUED);
    // A full port (queueRequest filled it) cannot happen for slots alone: capacity ≥ slots + queueCapacity.
    if (!this.#taskPort.post(K_TASK, ticket, slot)) throw new Error('iocp-pool: the task port is full despite its reserved capacity');
    this.#posted++;
  }

  /** The payload a thread fetched for the task in `slot` (it travels by message), once. */
  takeFallback(slot: number): FallbackPayload | undefined {
    return this.#fallback.take(slot);
  }

  // ─────────────────────────────── settle ───────────────────────────────

  /** The run() in `slot` still waits for its result (it did not settle early: abort, timeout). */
  waiting(slot: number): boolean {
    return this.#reject[slot] !== undefined;
  }

  /** Wall-clock ms the task in `slot` was submitted (F_TIMED), and performance.now() at its post (0: not sampled). */
  submittedAt(slot: number): number {
    return this.#submittedAt[slot]!;
  }

  postedAt(slot: number): number {
    return this.#postedAt[slot]!;
  }

  /** The task in `slot` is over: its slot is freed (T2) and its run() settles with `value` (T1) if it still waits. */
  settle(slot: number, ok: boolean, value: unknown): void {
    const resolve = this.#resolve[slot];
    const reject = this.#reject[slot];
    this.release(slot);
    if (reject !== undefined) this.#outcome(resolve!, reject, ok, value);
  }

  /**
   * A packet for a task settled early came back — a cancelled task's acknowledgement, or the late
   * result of one that ran past its timeout: its slot is freed, with the heap blocks its payload
   * holds (T2). A result for any other settled task was handled when it settled.
   */
  acknowledge(slot: number, cancelled: boolean): void {
    if (!cancelled && !this.#extras.orphaned(slot)) return;
    this.discard(slot);
    this.release(slot);
  }

  /** The run() in `slot` settles now, before its packet comes back (T2: the slot stays taken). */
  #settleEarly(slot: number, error: unknown): void {
    const resolve = this.#resolve[slot];
    const reject = this.#reject[slot];
    if (reject === undefined) return;
    this.#resolve[slot] = undefined;
    this.#reject[slot] = undefined;
    this.#outcome(resolve!, reject, false, error);
  }

  /** T1: every accepted run() settles here, once. */
  #outcome(resolve: Resolve, reject: Reject, ok: boolean, value: unknown): void {
    if (ok) {
      this.#completed++;
      resolve(value);
    } else {
      this.#failed++;
      reject(value);
    }
  }

  /** A progress value from the thread running the task with `ticket` in `slot`. */
  progress(slot: number, ticket: number, value: unknown): void {
    this.#extras.progress(slot, ticket, value);
  }

  /** The task in `slot` settled by its timeout before its result came (its thread still holds it). */
  orphaned(slot: number): boolean {
    return this.#extras.orphaned(slot);
  }

  /**
   * The payload in `slot` will never be read (a cancelled task, a late result nobody waits for, a
   * dead thread's slot): give back the heap blocks it holds. Only for a slot this thread owns (A3).
   */
  discard(slot: number): void {
    this.arena.discard(slotWord(this.slotBytes, slot));
  }

  /** The slot is done: forget its promise, signal and extras, give it back (A1). */
  release(slot: number): void {
    this.#extras.clear(slot);
    const signal = this.#signal[slot];
    if (signal !== undefined) {
      this.#signals.remove(signal, slot);
      this.#signal[slot] = undefined;
    }
    this.#resolve[slot] = undefined;
    this.#reject[slot] = undefined;
    this.#fallback.forget(slot);
    Atomics.store(this.#i32, slotWord(this.slotBytes, slot) + T_STATE, FREE);
    this.#free[this.#freeTop++] = slot;
    this.#i32[A_INFLIGHT] = --this.#inflight;
  }

  // ─────────────────────────────── cancel ───────────────────────────────

  /** A2 was won for the queued task in `slot` (cancel.ts): its run() settles now, and counts as never started (maxQueue); T2: the slot waits for the acknowledgement. */
  cancelled(slot: number, error: unknown): void {
    this.#cancelled++;
    this.#settleEarly(slot, error);
  }

  /**
   * close({ force: true }): settles every task not started yet with `makeError()` — those in the
   * backlog, and those queued in a slot (cancel.ts). Running tasks are left to finish.
   */
  cancelQueued(makeError: () => Error): number {
    return this.#backlog.rejectAll(makeError) + cancelQueuedSlots(this, makeError);
  }

  // ─────────────────────────── threads that end ───────────────────────────

  /** Thread `owner` is gone: what becomes of the tasks it held (A6, owned.ts). */
  failOwned(owner: number, lastTaken: readonly CompletionPacket[], makeError: () => Error): { failed: number; done: CompletionPacket[] } {
    return settleOwned(this, owner, lastTaken, makeError);
  }

  /** Posts a task's packet again (it left the port with a thread that died). False if the port refused it. */
  repost(slot: number, ticket: number): boolean {
    try {
      // Room is certain: this packet left the port, and the port holds one per slot.
      return this.#taskPort.post(K_TASK, ticket, slot);
    } catch {
      return false; // closed (destroy)
    }
  }

  /**
   * Rejects every pending task with `error` and forgets the slots. Called only once no thread
   * will touch the arena again (all exited, or all being terminated): no acknowledgement is
   * awaited for a slot, so slots still waiting for one are forgotten too.
   */
  rejectAll(error: Error): void {
    for (let slot = 0; slot < this.slots; slot++) {
      if (this.#reject[slot] !== undefined) this.settle(slot, false, error);
    }
    this.#inflight = 0;
    this.#i32[A_INFLIGHT] = 0;
    this.#backlog.rejectAll(() => error);
  }
}
