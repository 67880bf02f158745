/**
 * The native port's ledger: what the kernel does not expose — how many
 * threads wait, which ones count as running in this library's sense, how
 * many posted packets are queued against `capacity`, whether the port is
 * closed — kept in a small SharedArrayBuffer carried in `port.handle`, so
 * every thread that attaches sees the same numbers. And the handle's
 * lifetime: CloseHandle runs once, when the last thread inside a call that
 * uses the handle value has left a closed port.
 *
 * ```
 *  word (Int32 index)           meaning
 *  ─────────────────────────────────────────────────────────────────────────
 *  N_MAGIC          0           0x4e494f43 ('NIOC')
 *  N_VERSION        1           LEDGER_VERSION
 *  N_CLOSED         2           1 once close() began
 *  N_WAITING        3           threads between "about to call GQCS" and "returned from it"
 *  N_RUNNING        4           running slots held (sum of E_RUNNING)
 *  N_THREADS        5           thread-table entries in use
 *  N_CONCURRENCY    6           the kernel's NumberOfConcurrentThreads
 *  N_CAPACITY       7           most posted packets queued
 *  N_QUEUED         8           posted packets not yet dequeued
 *  N_INSIDE         9           threads inside any call that uses the handle value
 *  N_HANDLE_CLOSED 10           1 once CloseHandle has been called (exactly once)
 *  N_NEXT_ID       11           the last operation id handed out
 *  N_IO_PENDING    12           overlapped operations issued, packet not yet dequeued
 *  N_MAX_THREADS   13           thread-table entries
 *  TABLE_BASE      16           thread table: entry e at TABLE_BASE + E_WORDS·e
 *    +0 E_TAG                   its thread's tag (threadId + 1); negated while a detached
 *                               instance's getAsync is still in the kernel (not reused until
 *                               it returns); 0 = free
 *    +1 E_RUNNING               running slots it holds
 *    +2 E_INSIDE                its waits' share of N_INSIDE
 *    +3 E_WAITING               its waits' share of N_WAITING
 * ```
 *
 * Invariants:
 *  L1  Each N_ count of the table's fields is the sum over the entries, or
 *      more: a wait raises the port's count before its entry's and lowers it
 *      after (beginWait, endWait, leave). So what releaseThread() takes out
 *      of the port for a dead entry was in it.
 *  L2  No thread passes the handle value to the kernel after CloseHandle:
 *      every such call is between enter() (N_INSIDE up, then N_CLOSED
 *      checked) and leave(), and the thread that brings N_INSIDE to 0 on a
 *      closed port closes the handle, once (N_HANDLE_CLOSED).
 *  L3  A thread terminated in a wait never leaves it (V8 runs no `finally`
 *      in a terminated thread): its entry's E_INSIDE and E_WAITING are its
 *      share, which releaseThread() takes out (freeEntry).
 */
import { threadId } from 'node:worker_threads';
import { PortClosedError } from '../port/errors.js';
import { badHandle, MAX_THREADS_LIMIT, type PortConfig } from '../port/options.js';
import type { Win32 } from './win32.js';

export const N_MAGIC = 0;
const N_VERSION = 1;
export const N_CLOSED = 2;
export const N_WAITING = 3;
export const N_RUNNING = 4;
export const N_THREADS = 5;
export const N_CONCURRENCY = 6;
export const N_CAPACITY = 7;
export const N_QUEUED = 8;
export const N_INSIDE = 9;
const N_HANDLE_CLOSED = 10;
export const N_NEXT_ID = 11;
export const N_IO_PENDING = 12;
export const N_MAX_THREADS = 13;
const TABLE_BASE = 16;
const E_WORDS = 4;
const E_TAG = 0;
const E_RUNNING = 1;
const E_INSIDE = 2;
const E_WAITING = 3;
const MAGIC = 0x4e494f43; // 'NIOC'
const LEDGER_VERSION = 2;

/** A new port's ledger. */
export function createLedger(config: PortConfig): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer((TABLE_BASE + E_WORDS * config.maxThreads) * 4);
  const i32 = new Int32Array(buffer);
  i32[N_MAGIC] = MAGIC;
  i32[N_VERSION] = LEDGER_VERSION;
  i32[N_CONCURRENCY] = config.concurrency;
  i32[N_CAPACITY] = config.capacity;
  i32[N_MAX_THREADS] = config.maxThreads;
  return buffer;
}

/** Checks a buffer that claims to be a native port's ledger; throws the handle's TypeError. */
export function checkLedger(buffer: SharedArrayBuffer): void {
  if (buffer.byteLength < TABLE_BASE * 4) throw badHandle('its buffer is too small');
  const i32 = new Int32Array(buffer);
  if (i32[N_MAGIC] !== MAGIC || i32[N_VERSION] !== LEDGER_VERSION) throw badHandle('its buffer has no native port header');
  const maxThreads = i32[N_MAX_THREADS]!;
  if (maxThreads < 1 || maxThreads > MAX_THREADS_LIMIT || buffer.byteLength !== (TABLE_BASE + E_WORDS * maxThreads) * 4) {
    throw badHandle('its header does not match its size');
  }
}

/** One port instance's use of the ledger (one per thread that attaches). */
export class Ledger {
  readonly i32: Int32Array;
  readonly #w: Win32;
  readonly #port: bigint;
  readonly #maxThreads: number;
  /** This instance's entry in the thread table, or -1. */
  slot = -1;
  /** getAsync waits of this instance in the kernel (or queued for it). */
  asyncPending = 0;
  /** The entry a detach() left reserved for those waits, or -1. */
  draining = -1;

  constructor(w: Win32, port: bigint, buffer: SharedArrayBuffer) {
    this.#w = w;
    this.#port = port;
    this.i32 = new Int32Array(buffer);
    this.#maxThreads = this.i32[N_MAX_THREADS]!;
  }

  get closed(): boolean {
    return Atomics.load(this.i32, N_CLOSED) !== 0;
  }

  /** Counts this thread as inside a call that uses the handle value; throws (and leaves) if closed (L2). */
  enter(message?: string): void {
    const i32 = this.i32;
    Atomics.add(i32, N_INSIDE, 1);
    if (Atomics.load(i32, N_CLOSED) !== 0) {
      this.leave();
      throw new PortClosedError(message);
    }
  }

  tryEnter(): boolean {
    const i32 = this.i32;
    Atomics.add(i32, N_INSIDE, 1);
    if (Atomics.load(i32, N_CLOSED) === 0) return true;
    this.leave();
    return false;
  }

  /** Leaves a call that entered with enter() (entry -1) or beginWait() (its entry). */
  leave(entry = -1): void {
    if (entry >= 0) Atomics.sub(this.i32, TABLE_BASE + E_WORDS * entry + E_INSIDE, 1);
    this.#leaveBy(1);
  }

  /** The last thread to leave a closed port closes the handle, exactly once (L2). */
  #leaveBy(n: number): void {
    const i32 = this.i32;
    if (Atomics.sub(i32, N_INSIDE, n) === n && Atomics.load(i32, N_CLOSED) !== 0) {
      if (Atomics.compareExchange(i32, N_HANDLE_CLOSED, 0, 1) === 0) this.#w.CloseHandle(this.#port);
    }
  }

  /** This instance's entry, taken on first use. */
  register(): number {
    if (this.slot >= 0) return this.slot;
    const i32 = this.i32;
    for (let s = 0; s < this.#maxThreads; s++) {
      const base = TABLE_BASE + E_WORDS * s;
      if (Atomics.compareExchange(i32, base + E_TAG, 0, threadId + 1) === 0) {
        Atomics.store(i32, base + E_RUNNING, 0);
        Atomics.store(i32, base + E_INSIDE, 0);
        Atomics.store(i32, base + E_WAITING, 0);
        Atomics.add(i32, N_THREADS, 1);
        this.slot = s;
        return s;
      }
    }
    throw new RangeError(
      `the completion port has no free thread slot: ${this.#maxThreads} threads are attached ` +
        '(raise options.maxThreads, or call releaseThread()/detach() for threads that ended)',
    );
  }

  /** The thread is done with the packet it had: one running slot back. */
  giveBack(): void {
    const i32 = this.i32;
    const word = TABLE_BASE + E_WORDS * this.slot + E_RUNNING;
    if (Atomics.load(i32, word) > 0) {
      Atomics.sub(i32, word, 1);
      Atomics.sub(i32, N_RUNNING, 1);
    }
  }

  took(): void {
    Atomics.add(this.i32, TABLE_BASE + E_WORDS * this.slot + E_RUNNING, 1);
    Atomics.add(this.i32, N_RUNNING, 1);
  }

  /** blocking(): all of this thread's running slots back; returns how many, and the function that takes them again. */
  giveBackAll(slot: number): () => void {
    const i32 = this.i32;
    const word = TABLE_BASE + E_WORDS * slot + E_RUNNING;
    const held = Atomics.exchange(i32, word, 0);
    if (held > 0) Atomics.sub(i32, N_RUNNING, held);
    return () => {
      if (held === 0 || this.slot !== slot) return;
      Atomics.add(i32, word, held);
      Atomics.add(i32, N_RUNNING, held);
    };
  }

  /**
   * Start of a wait in entry `entry`: counts it inside and waiting, the
   * port's counts before the entry's (L1), and checks closed.
   */
  beginWait(entry: number): void {
    const i32 = this.i32;
    const base = TABLE_BASE + E_WORDS * entry;
    Atomics.add(i32, N_INSIDE, 1);
    Atomics.add(i32, base + E_INSIDE, 1);
    Atomics.add(i32, N_WAITING, 1);
    Atomics.add(i32, base + E_WAITING, 1);
    if (Atomics.load(i32, N_CLOSED) !== 0) {
      this.endWait(entry);
      this.leave(entry);
      throw new PortClosedError();
    }
  }

  /** A wait returned from the kernel: out of the waiting counts (the entry's first, then the port's: L1). */
  endWait(entry: number): void {
    Atomics.sub(this.i32, TABLE_BASE + E_WORDS * entry + E_WAITING, 1);
    Atomics.sub(this.i32, N_WAITING, 1);
  }

  /** releaseThread(): frees every entry of the thread tagged `tag` (L3); returns the running slots it held. */
  releaseTag(tag: number): number {
    const i32 = this.i32;
    let running = 0;
    for (let e = 0; e < this.#maxThreads; e++) {
      const t = Atomics.load(i32, TABLE_BASE + E_WORDS * e + E_TAG);
      if (t !== tag && t !== -tag) continue;
      running += this.freeEntry(e, t === tag);
      if (e === this.slot) this.slot = -1;
    }
    return running;
  }

  /**
   * detach(): gives back this instance's entry. A getAsync still in the
   * kernel keeps it (negated tag, running slots given back) until it returns.
   */
  detach(): void {
    const slot = this.slot;
    if (slot < 0) return;
    const i32 = this.i32;
    this.slot = -1;
    if (this.asyncPending > 0) {
      const held = Atomics.exchange(i32, TABLE_BASE + E_WORDS * slot + E_RUNNING, 0);
      if (held > 0) Atomics.sub(i32, N_RUNNING, held);
      Atomics.store(i32, TABLE_BASE + E_WORDS * slot + E_TAG, -(threadId + 1));
      Atomics.sub(i32, N_THREADS, 1);
      this.draining = slot;
      return;
    }
    this.freeEntry(slot, true);
  }

  /**
   * Frees thread-table entry e: its running slots and its waits' share of
   * N_INSIDE / N_WAITING back (`counted`: it is still in N_THREADS). Returns
   * the running slots it held.
   */
  freeEntry(e: number, counted: boolean): number {
    const i32 = this.i32;
    const base = TABLE_BASE + E_WORDS * e;
    const held = Atomics.exchange(i32, base + E_RUNNING, 0);
    if (held !== 0) Atomics.sub(i32, N_RUNNING, held);
    const waiting = Atomics.exchange(i32, base + E_WAITING, 0);
    if (waiting !== 0) Atomics.sub(i32, N_WAITING, waiting);
    const inside = Atomics.exchange(i32, base + E_INSIDE, 0);
    Atomics.store(i32, base + E_TAG, 0);
    if (counted) Atomics.sub(i32, N_THREADS, 1);
    if (e === this.draining) this.draining = -1;
    if (inside !== 0) this.#leaveBy(inside);
    return held;
  }
}
