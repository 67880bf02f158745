/**
 * The pool's run() tasks as the main thread sees them: the arena's slots and
 * the backlog of tasks waiting for one.
 *
 * A task lives in one arena slot from submission until its result has been
 * read back (pool/layout.ts states the slot's words and invariants A1–A5). This
 * class alone allocates and frees slots (A1): a free stack in this thread's
 * memory, LIFO so the slot just freed is still in cache. What belongs to a
 * task but cannot live in shared memory — its promise's functions, its
 * AbortSignal, a payload too large for the slot — is kept here, per slot.
 *
 * When every slot is taken, run() waits in the backlog (oldest first), and
 * pump() moves it into the next free slot.
 */
import type { TransferListItem } from 'node:worker_threads';
import type { CompletionPacket, CompletionPort } from '../../port/index.js';
import { cloneError } from '../../codec/error-record.js';
import { TAG_FALLBACK } from '../../codec/slot-views.js';
import { AbortError } from '../errors.js';
import {
  A_INFLIGHT,
  A_STARTED,
  CANCELLED,
  DONE,
  F_SIGNAL,
  F_TIMED,
  FREE,
  HANDLER_SHIFT,
  K_TASK,
  QUEUED,
  RUNNING,
  slotWord,
  T_FLAGS,
  T_OWNER,
  T_STATE,
  T_TAG,
  T_TICKET,
} from '../layout.js';
import { type Carried, transferOf } from '../../codec/carried.js';
import type { SlotCodec } from '../../codec/slot-codec.js';
import { SignalWatch } from './signals.js';
import { ExtrasTable, type TaskExtras } from './task-extras.js';

/** Why postMessage cannot clone `value` (its own error), or undefined when it can. Only on the error path: it clones. */
function messageCloneError(value: unknown): unknown {
  try {
    structuredClone(value);
    return undefined;
  } catch (error) {
    return error;
  }
}

type Resolve = (value: unknown) => void;
type Reject = (error: unknown) => void;

/**
 * One executor for every run() promise: it parks the promise's functions in
 * these two variables, which the caller reads right after `new Promise` (the
 * executor runs synchronously). Saves a closure per task on the hot path —
 * Promise.withResolvers() would do the same, but Node 20 lacks it.
 */
let capturedResolve: Resolve | undefined;
let capturedReject: Reject | undefined;
function capture(resolve: (value: never) => void, reject: Reject): void {
  capturedResolve = resolve as Resolve;
  capturedReject = reject;
}

export type { TaskExtras } from './task-extras.js';

/** A run() that waits here because every slot is taken. */
interface Backlogged {
  task: unknown;
  extras: TaskExtras | undefined;
  /** Its handler's index (pool/layout.ts NAMES; 0: the default). */
  handler: number;
  signal: AbortSignal | undefined;
  transferList: readonly TransferListItem[] | undefined;
  resolve: Resolve;
  reject: Reject;
  done: boolean;
}

/** What the table needs from the pool around it. */
export interface TaskHooks {
  /** A task packet was posted: the result drain must run. */
  posted(): void;
  /** The signal of a running task aborted, or its timeout passed: tell the thread `owner` (its ticket names the task). */
  abortRunning(owner: number, slot: number, ticket: number, timeout: boolean): void;
  /** A task with onProgress was submitted: progress values must be delivered as they come. */
  wantsProgress(): void;
  /** A task ran past its timeout and its handler did not return within the grace: terminate `owner`. */
  stopThread(owner: number): void;
}

export class TaskTable {
  readonly slots: number;
  readonly slotBytes: number;
  readonly #arena: SlotCodec;
  readonly #i32: Int32Array;
  readonly #taskPort: CompletionPort;
  readonly #concurrency: number;
  readonly #hooks: TaskHooks;

  // Per slot, in this thread's memory (A1): the promise's functions and the task's signal.
  readonly resolve: (Resolve | undefined)[];
  readonly reject: (Reject | undefined)[];
  readonly #signal: (AbortSignal | undefined)[];
  /** The 'abort' listeners: one per distinct signal, keyed by slot (submitted) or entry (backlogged). */
  readonly #signals = new SignalWatch((key, signal) => {
    if (typeof key === 'number') this.#abort(key);
    else this.#abortBacklogged(key as Backlogged, signal);
  });
  /** Wall-clock ms at submission, for tasks whose timing is sampled (F_TIMED). */
  readonly submittedAt: Float64Array;
  /** performance.now() at post, for tasks posted while few were in flight (0: not sampled); see spin-policy.ts. */
  readonly postedAt: Float64Array;
  /** Timeouts and onProgress of the tasks that have them; orphans (settled by a timeout, result not come). */
  readonly #extras: ExtrasTable;
  /** Payloads that travel by MessagePort (too large, or with a transferList), by slot: what the codec's carried() gave. */
  readonly fallback = new Map<number, { task: Carried; transferList: readonly TransferListItem[] | undefined }>();
  readonly #free: Int32Array;
  #freeTop: number;
  /** Slots in use: their result (or cancel acknowledgement) has not been drained yet. */
  inflight = 0;
  readonly #backlog: (Backlogged | undefined)[] = [];
  #backlogHead = 0;
  /** Task packets posted, and tasks cancelled before they started: maxQueue accounting with A_STARTED. */
  #posted = 0;
  #cancelled = 0;
  #timedCount = 0;
  /** Submissions so far (wraps): each task's T_TICKET, so an abort can name the task and not just its slot. */
  #tickets = 0;
  /** run() outcomes, for stats(). */
  completed = 0;
  failed = 0;

  constructor(arena: SlotCodec, taskPort: CompletionPort, concurrency: number, hooks: TaskHooks) {
    this.#arena = arena;
    this.#i32 = arena.i32;
    this.slots = arena.slots;
    this.slotBytes = arena.slotBytes;
    this.#taskPort = taskPort;
    this.#concurrency = concurrency;
    this.#hooks = hooks;
    const slots = arena.slots;
    this.resolve = new Array(slots).fill(undefined);
    this.reject = new Array(slots).fill(undefined);
    this.#signal = new Array(slots).fill(undefined);
    this.submittedAt = new Float64Array(slots);
    this.#extras = new ExtrasTable({
      slots,
      slotBytes: this.slotBytes,
      i32: arena.i32,
      f64: arena.f64,
      reject: this.reject,
      timedOut: (slot) => {
        this.resolve[slot] = undefined;
        this.reject[slot] = undefined;
        this.failed++;
      },
      wantsProgress: () => hooks.wantsProgress(),
      abortRunning: (owner, slot, ticket, timeout) => hooks.abortRunning(owner, slot, ticket, timeout),
      stopThread: (owner) => hooks.stopThread(owner),
    });
    this.postedAt = new Float64Array(slots);
    this.#free = new Int32Array(slots);
    for (let i = 0; i < slots; i++) this.#free[i] = slots - 1 - i; // slot 0 on top
    this.#freeTop = slots;
  }

  /** No task waits in the backlog. */
  get backlogEmpty(): boolean {
    return this.#backlogHead === this.#backlog.length;
  }

  /** Tasks accepted and not yet started (maxQueue): backlog + posted − started − cancelled before starting. */
  queued(): number {
    const inPort = (this.#posted - Atomics.load(this.#i32, A_STARTED) - this.#cancelled) | 0;
    return this.#backlog.length - this.#backlogHead + Math.max(0, inPort);
  }

  /** Tasks waiting in the backlog (not yet in a slot). */
  get backlogged(): number {
    return this.#backlog.length - this.#backlogHead;
  }

  /** Accepts a task: into a free slot at once if none waits ahead of it, else into the backlog. */
  add(
    task: unknown,
    handler: number,
    signal: AbortSignal | undefined,
    transferList: readonly TransferListItem[] | undefined,
    extras: TaskExtras | undefined,
  ): Promise<unknown> {
    if (this.#freeTop > 0 && this.#backlogHead === this.#backlog.length) {
      const slot = this.#free[--this.#freeTop]!;
      const promise = new Promise<unknown>(capture);
      this.resolve[slot] = capturedResolve;
      this.reject[slot] = capturedReject;
      this.#submit(slot, task, handler, signal, transferList, extras);
      return promise;
    }
    const promise = new Promise<unknown>(capture);
    const reject = capturedReject!;
    const entry: Backlogged = { task, extras, handler, signal, transferList, resolve: capturedResolve!, reject, done: false };
    if (signal !== undefined) this.#signals.add(signal, entry);
    this.#backlog.push(entry);
    return promise;
  }

  /** The signal of a task still in the backlog aborted: it never takes a slot. */
  #abortBacklogged(entry: Backlogged, signal: AbortSignal): void {
    if (entry.done) return;
    entry.done = true; // the backlog skips it
    this.failed++;
    entry.reject(new AbortError(signal.reason));
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
    let flags = handler << HANDLER_SHIFT;
    // From here the slot is in use; release() gives it back. The shared copy is a hint (plain store).
    i32[A_INFLIGHT] = ++this.inflight;
    let fallback = transferList !== undefined;
    let carried: Carried | undefined;
    try {
      // Shared memory (the slot, or a block of the heap), or TAG_FALLBACK: too large for the heap.
      if (!fallback && this.#arena.encode(w, task) === TAG_FALLBACK) {
        fallback = true;
        carried = this.#arena.carried(task);
      }
    } catch (error) {
      // Not for the slot's codec. What postMessage can clone (a Blob, a KeyObject…) goes that way;
      // what it cannot (a function…) fails now, in the caller's turn, as postMessage would.
      const why = this.#arena.serialization === 'json' ? error : messageCloneError(task);
      if (why !== undefined) {
        const reject = this.reject[slot]!;
        this.release(slot);
        this.failed++;
        reject(cloneError("run()'s task (its first argument)", why));
        return;
      }
      fallback = true;
    }
    if (fallback) {
      i32[w + T_TAG] = TAG_FALLBACK;
      carried ??= { value: task };
      // The codec's own encoding (a copy of its own) moves instead of being cloned again.
      this.fallback.set(slot, { task: carried, transferList: transferOf(carried) ?? transferList });
    }
    if (signal !== undefined) {
      flags |= F_SIGNAL;
      this.#signal[slot] = signal;
      this.#signals.add(signal, slot);
    }
    // Timing costs two clock reads per task: sample all of the first 64, then one in 16.
    const n = this.#timedCount++;
    if (n < 64 || (n & 15) === 0) {
      flags |= F_TIMED;
      this.submittedAt[slot] = performance.timeOrigin + performance.now();
    }
    const ticket = (this.#tickets = (this.#tickets + 1) | 0);
    if (extras !== undefined) flags |= this.#extras.set(slot, w, ticket, extras);
    i32[w + T_FLAGS] = flags;
    i32[w + T_TICKET] = ticket;
    // No thread holds it yet (a thread names itself here when it takes the packet: failOwned).
    i32[w + T_OWNER] = 0;
    // Few in flight: one-at-a-time territory, where the round trip is worth measuring (spin-policy.ts).
    this.postedAt[slot] = this.inflight <= this.#concurrency ? performance.now() : 0;
    Atomics.store(i32, w + T_STATE, QUEUED);
    // A full port (queueRequest filled it) cannot happen for slots alone: capacity ≥ slots + queueCapacity.
    if (!this.#taskPort.post(K_TASK, ticket, slot)) throw new Error('iocp-pool: the task port is full despite its reserved capacity');
    this.#posted++;
    this.#hooks.posted();
  }

  /** Moves backlogged tasks into free slots, oldest first. */
  pump(): void {
    const backlog = this.#backlog;
    while (this.#freeTop > 0 && this.#backlogHead < backlog.length) {
      const entry = backlog[this.#backlogHead]!;
      backlog[this.#backlogHead++] = undefined;
      if (entry.done) continue;
      entry.done = true;
      if (entry.signal !== undefined) this.#signals.remove(entry.signal, entry);
      const slot = this.#free[--this.#freeTop]!;
      this.resolve[slot] = entry.resolve;
      this.reject[slot] = entry.reject;
      this.#submit(slot, entry.task, entry.handler, entry.signal, entry.transferList, entry.extras);
    }
    if (this.#backlogHead === backlog.length) {
      backlog.length = 0;
      this.#backlogHead = 0;
    } else if (this.#backlogHead > 4096 && this.#backlogHead * 2 > backlog.length) {
      backlog.splice(0, this.#backlogHead);
      this.#backlogHead = 0;
    }
  }

  /** A progress value from the thread running the task with `ticket` in `slot`. */
  progress(slot: number, ticket: number, value: unknown): void {
    this.#extras.progress(slot, ticket, value);
  }

  /** The task in `slot` settled by its timeout before its result came: the result only frees the slot. */
  orphaned(slot: number): boolean {
    return this.#extras.orphaned(slot);
  }

  /**
   * The payload in `slot` will never be read (a cancelled task, a late result nobody waits for, a
   * dead thread's slot): give back the heap blocks it holds. Only for a slot this thread owns (A3).
   */
  discard(slot: number): void {
    this.#arena.discard(slotWord(this.slotBytes, slot));
  }

  /** The slot is done: forget its promise and signal, give it back. */
  release(slot: number): void {
    this.#extras.clear(slot);
    const signal = this.#signal[slot];
    if (signal !== undefined) {
      this.#signals.remove(signal, slot);
      this.#signal[slot] = undefined;
    }
    this.resolve[slot] = undefined;
    this.reject[slot] = undefined;
    if (this.fallback.size !== 0) this.fallback.delete(slot);
    Atomics.store(this.#i32, slotWord(this.slotBytes, slot) + T_STATE, FREE);
    this.#free[this.#freeTop++] = slot;
    this.#i32[A_INFLIGHT] = --this.inflight;
  }

  /** signal aborted for the task in slot. A2: one CAS against the worker's QUEUED → RUNNING. */
  #abort(slot: number): void {
    const i32 = this.#i32;
    const w = slotWord(this.slotBytes, slot);
    const reject = this.reject[slot];
    if (reject === undefined) return;
    const signal = this.#signal[slot]!;
    if (Atomics.compareExchange(i32, w + T_STATE, QUEUED, CANCELLED) === QUEUED) {
      // Never ran and never will: reject now; the slot is freed when a thread acknowledges the packet.
      this.#cancelled++;
      this.resolve[slot] = undefined;
      this.reject[slot] = undefined;
      this.failed++;
      reject(new AbortError(signal.reason));
      return;
    }
    if (Atomics.load(i32, w + T_STATE) === RUNNING) {
      // Running: the handler sees its signal abort; run() settles with what the handler does.
      // The ticket names this task: by the time the message arrives the slot may hold another.
      this.#hooks.abortRunning(i32[w + T_OWNER]!, slot, i32[w + T_TICKET]!, false);
    }
  }

  /**
   * Thread `owner` is gone (A6). Its tasks are those whose slot names it (T_OWNER), and the one
   * whose packet the port names as its last take (`lastTaken`) if the slot still holds that
   * packet's ticket, has not started, and names no other thread. Of those:
   *  - QUEUED or CANCELLED: it never ran — it died between its take and its claim, or holding
   *    the packet across a turn of its event loop (loop.ts). The packet goes back to the port for
   *    another thread (QUEUED: it runs there; CANCELLED: that thread acknowledges it, which frees
   *    the slot).
   *  - RUNNING: it started; it is rejected with makeError() (not run again: it may have done
   *    part of its work). A task already settled by its timeout only frees its slot.
   *  - DONE + status: it finished and the thread died before (or after) its result packet was
   *    posted: returned in `done`, as the packet that delivers it (the caller hands it to the
   *    result drain; if the thread did post it, that packet is dropped as stale, A7).
   * Returns how many run() calls were rejected, and the packets to deliver.
   */
  failOwned(owner: number, lastTaken: readonly CompletionPacket[], makeError: () => Error): { failed: number; done: CompletionPacket[] } {
    const i32 = this.#i32;
    for (const packet of lastTaken) this.#adopt(owner, packet);
    let failed = 0;
    const done: CompletionPacket[] = [];
    for (let slot = 0; slot < this.slots; slot++) {
      const w = slotWord(this.slotBytes, slot);
      if (Atomics.load(i32, w + T_OWNER) !== owner) continue;
      const state = Atomics.load(i32, w + T_STATE);
      if (state === QUEUED || state === CANCELLED) {
        i32[w + T_OWNER] = 0;
        if (this.#repost(slot, i32[w + T_TICKET]!)) continue;
        // The port is closed (destroy: rejectAll settles the slot), or full, which the capacity
        // excludes: fail it rather than leave it pending.
        const reject = this.reject[slot];
        if (reject === undefined) continue;
        this.release(slot);
        this.failed++;
        failed++;
        reject(makeError());
        continue;
      }
      if (state >= DONE) {
        done.push({ bytesTransferred: state - DONE, completionKey: i32[w + T_TICKET]!, overlapped: slot });
        continue;
      }
      if (state !== RUNNING) continue;
      const reject = this.reject[slot];
      // The thread is gone: what the slot still holds in the heap (a task it had not read, a
      // result it had written) is this thread's to free.
      const orphan = this.#extras.orphaned(slot);
      if (reject !== undefined || orphan) this.#arena.discard(w);
      if (reject === undefined) {
        // A task settled by its timeout, whose result will never come now: free its slot.
        if (orphan) this.release(slot);
        continue;
      }
      this.release(slot);
      this.failed++;
      failed++;
      reject(makeError());
    }
    return { failed, done };
  }

  /**
   * A task packet the port says thread `owner` took last: if its slot still holds that task,
   * not started, and no other thread named itself in it, the task is the dead thread's (it
   * died between its take and its claim). A4: the index is checked first.
   */
  #adopt(owner: number, packet: CompletionPacket): void {
    if (packet.bytesTransferred !== K_TASK) return;
    const slot = packet.overlapped;
    if (slot >>> 0 !== slot || slot >= this.slots) return;
    const i32 = this.#i32;
    const w = slotWord(this.slotBytes, slot);
    if (i32[w + T_TICKET] !== packet.completionKey) return; // that task settled; the slot holds another
    const state = Atomics.load(i32, w + T_STATE);
    if (state !== QUEUED && state !== CANCELLED) return; // claimed: T_OWNER says by whom
    const named = Atomics.load(i32, w + T_OWNER);
    if (named === 0) i32[w + T_OWNER] = owner;
  }

  /** Posts a task's packet again (it left the port with a thread that died). False if the port refused it. */
  #repost(slot: number, ticket: number): boolean {
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
      const reject = this.reject[slot];
      if (reject === undefined) continue;
      this.release(slot);
      this.failed++;
      reject(error);
    }
    this.inflight = 0;
    this.#i32[A_INFLIGHT] = 0;
    const backlog = this.#backlog;
    for (let i = this.#backlogHead; i < backlog.length; i++) {
      const entry = backlog[i];
      if (entry === undefined || entry.done) continue;
      entry.done = true;
      if (entry.signal !== undefined) this.#signals.remove(entry.signal, entry);
      this.failed++;
      entry.reject(error);
    }
    backlog.length = 0;
    this.#backlogHead = 0;
  }
}
