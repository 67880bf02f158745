/**
 * CompletionPort — the portable backend: an I/O completion port in a
 * SharedArrayBuffer, usable from any thread that holds `port.handle`.
 *
 * The memory layout and the invariants I1–I9 that every method keeps are in
 * ./layout.ts; read them first. In short: packets go through a lock-free
 * ring (Vyukov's bounded MPMC queue); one small mutex (S_LOCK) guards the
 * waiter stack, the running counts, FRONT, close and releaseThread; each
 * waiting thread sleeps on the wait word of its own slot, so the poster can
 * wake exactly the thread it chose (the newest waiter: LIFO) and hand it the
 * packet through the slot's mailbox (a woken thread always has work, and
 * never fights for it). Every thread records its in-flight ring claims in
 * its own record (I8), so a thread that dies mid-call is repaired exactly.
 * FRONT is ./front.ts, the records ./records.ts, the repair ./repair.ts.
 *
 * Win32 correspondence:
 *   new CompletionPort()        CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, n)
 *   post()                      PostQueuedCompletionStatus
 *   get() / getAsync()          GetQueuedCompletionStatus
 *   getMany()                   GetQueuedCompletionStatusEx
 *   close()                     CloseHandle (waiters see ERROR_ABANDONED_WAIT_0)
 */
import { afterSettled } from './after-settled.js';
import { availableParallelism } from 'node:os';
import { threadId } from 'node:worker_threads';
import { autoNative, isNativePort, requireNative } from './backends.js';
import { PortClosedError, PortCorruptedError } from './errors.js';
import { frontCount, frontIndex, type Memory, readFront, removeFrontHead, requeueFront, takeFront } from './front.js';
import {
  C_PAYLOAD,
  CELL_WORDS,
  CLAIM,
  CLOSED,
  CLOSED_BIT,
  CLOSED_DONE,
  CLOSING,
  EXTRA,
  FREE,
  FRONT_BIT,
  type Geometry,
  geometry,
  H_BYTE_LENGTH,
  H_CAPACITY,
  H_CONCURRENCY,
  H_MAGIC,
  H_MAX_THREADS,
  H_RECORDS,
  H_RING_SIZE,
  H_SPIN,
  H_VERSION,
  HANDED,
  IDLE,
  LAYOUT_VERSION,
  LOCK_CONTENDED,
  MAGIC,
  OPEN,
  PACKET_F64,
  POS_FLAGS,
  POS_MASK,
  R_DEAD,
  R_FRONT,
  R_POST,
  R_TAKE,
  R_TARGET,
  R_TID,
  RECORD_WORDS,
  S_ANON,
  S_CLOSED,
  S_DEQ,
  S_ENQ,
  S_FRONT_HEAD,
  S_FRONT_TAIL,
  S_LOCK,
  S_LOCK_ANON,
  S_NEED_SCAN,
  S_PENDING,
  S_RUNNING,
  S_STUCK_LOCK,
  S_THREADS,
  S_VOID,
  S_WAITING,
  SLEEPING,
  SLOT_WORDS,
  STACK_BASE,
  THREAD,
  VOID_BIT,
  W_DEAD,
  W_KIND,
  W_MAILBOX,
  W_OWNER,
  W_RUNNING,
  W_STATE,
  W_THREAD_ID,
  WAITING,
} from './layout.js';
import { allocRecord, freeRecord, owners, recordBase, recordsOf, threadKnown } from './records.js';
import { finishClaims, num, pause, type Recovery, rebuildAfterDeath, recover, scanRing } from './repair.js';
import type {
  AttachOptions,
  CompletionPacket,
  CompletionPortOptions,
  GetAsyncOptions,
  PortHandle,
  PortStats,
  ReleasedThread,
} from './types.js';
import { checkFinite, checkFunction, checkInteger, checkOptions, checkTimeout, describe } from './validate.js';

const DEFAULT_CAPACITY = 65536;
const DEFAULT_MAX_THREADS = 1024;
/**
 * Most iterations a waiter spins before it sleeps (~110 µs at the ~5.6 ns an
 * Atomics.load loop takes here). The spin that is actually used adapts
 * between MIN_SPIN and this, see #waitSync.
 */
const DEFAULT_SPIN = 20000;
const MIN_SPIN_DIVISOR = 32;
/**
 * A sleep shorter than this would have been caught by a longer spin: it cost
 * a futex round trip (~15–20 µs here) for nothing, so the spin budget grows.
 * A longer sleep means the thread was idle: spinning longer would only have
 * burnt CPU, so the budget shrinks.
 */
const SHORT_SLEEP_MS = 0.1;
/** CAS attempts on a held lock before sleeping on it: the lock is held for ~100 ns, so a holder that is still running lets go long before this runs out. */
const LOCK_SPIN = 200;
/** A thread asleep on the lock this long checks that the word names a thread that uses the port (else the word is corrupt). */
const LOCK_CHECK_MS = 100;
/** How long releaseThread() waits on a lock held by another thread before it leaves its work to the next holder (I9). */
const RELEASE_LOCK_WAIT_MS = 50;
/** How long releaseThread() waits for a live thread that recorded the same claim as the dead one to move on (I8). */
const RELEASE_CLAIM_WAIT_MS = 50;
/**
 * How long a lock holder finishing deaths left to it (I9) waits for a
 * contested claim or an unrecorded thread's claim: not at all. What is still
 * contested stays pending, and is looked at again at the next unlock (a pass
 * over the slots and records, a few microseconds), so a death left pending
 * for long slows the port's slow paths a little, never a fast path.
 */
const PENDING_WAIT_MS = 0;
/** Iterations close() spins on a claimed, unpublished position before it checks who claimed it. */
const PUBLISH_SPIN = 1000;
/** How long close() waits, in all, for live posters to publish positions claimed before the close (I7). */
const CLOSE_WAIT_MS = 200;
/** Iterations a full post() waits for a taker that has claimed the packet in its way to free the cell (I6). */
const FREE_SPIN = 256;
const MAX_CAPACITY = 1 << 24;
const MAX_THREADS_LIMIT = 1 << 16;

/** This thread's tag in records (R_TID) and lock words: threadId + 1, never 0. */
const MY_TAG = threadId + 1;
/**
 * What this thread writes into S_LOCK to hold it: its tag shifted past
 * LOCK_CONTENDED. It names the holder in the same word and the same CAS that
 * takes the lock, so a holder that dies at any point is known (releaseThread
 * inherits the lock from the thread it releases, I8).
 */
const MY_LOCK = MY_TAG * 2;

function keepAlive(): void {}

/** #begin's answers besides a waiter slot (slot indices are ≥ 0): a packet was taken into scratch, or none and no wait. */
const TAKE = -1;
const NONE = -2;
/** #begin's waiterState for a call that must not wait (timeout 0). */
const NO_WAIT = 0;
/** releaseThread's ways to the lock (I9). */
const LOCKED = 0;
const INHERITED = 1;
const DEFERRED = 2;

/** Passed through the constructor by from(): attaching must not create a new buffer. */
const ATTACH = Symbol('attach');

interface AttachRequest {
  [ATTACH]: SharedArrayBuffer;
  spinCount?: number;
}

/** A pending getAsync of this instance; detach() settles it (`done`) before it frees the slot. */
interface AsyncWait {
  done: boolean;
  packet: CompletionPacket | null;
  error: Error | undefined;
}

function isSharedArrayBuffer(value: unknown): value is SharedArrayBuffer {
  return Object.prototype.toString.call(value) === '[object SharedArrayBuffer]';
}

/**
 * An I/O completion port in a SharedArrayBuffer (the portable backend): FIFO packets, LIFO
 * waiters, a cap on running threads. Any thread that holds `port.handle` attaches with
 * `CompletionPort.from(handle)`. `new CompletionPort({ backend: 'native' })` returns a
 * {@link NativeCompletionPort} instead: the Win32 port, with the same interface. Guide:
 * docs/port.md.
 */
export class CompletionPort {
  /** Structured-cloneable: send it to a worker and call `CompletionPort.from(handle)` there. */
  readonly handle!: PortHandle;

  readonly #buffer!: SharedArrayBuffer;
  readonly #i32!: Int32Array;
  readonly #f64!: Float64Array;
  readonly #geo!: Geometry;
  /** The views the helper modules work on (front.ts, records.ts, repair.ts). */
  readonly #mem!: Memory;
  readonly #concurrency!: number;
  // Copies of geometry fields, read on every post/get.
  readonly #capacity!: number;
  readonly #ringSize!: number;
  readonly #mask!: number;
  readonly #cellBase!: number;
  /** Int32 index of this instance's THREAD slot's W_RUNNING, or -1 before it registers. */
  #runningWord = -1;
  /**
   * This instance's claim record (I8), a view of its 16 words; null until the
   * first call that claims or locks. A private array when every record was
   * taken (the instance claims unrecorded, S_ANON).
   */
  #claims: Int32Array | null = null;
  /** Int32 index of this instance's record, or -1 (none yet, or unrecorded). */
  #record = -1;
  /** The most this thread spins (settable: spinCount); its current budget is #spinBudget. */
  #spin!: number;
  #spinBudget!: number;
  /** This instance's THREAD slot, or -1 until the first call that waits or runs. */
  #slot = -1;
  /** Slots owned by this instance and not in a wait right now (the THREAD slot first). */
  readonly #idle: number[] = [];
  /** Where packets taken under the lock are copied: objects are made after unlock. */
  #scratch = new Float64Array(PACKET_F64 * 16);
  /** True while this instance holds S_LOCK: a throw lets go of it first. */
  #holding = false;
  /** Slots to notify once the lock is let go (#unlock notifies them). */
  readonly #wake: number[] = [];
  /** True while #unlock finishes deaths left to it: no recursion. */
  #finishing = false;
  /** A ring cell #dispatch has claimed and not yet freed (it frees it after the hand-over, I8). */
  #heldCell = 0;
  #heldSeq = 0;
  #heldPos = 0;
  /** Pending getAsync waits of this instance, by slot. */
  readonly #asyncPending = new Map<number, AsyncWait>();
  /**
   * Atomics.waitAsync holds no ref on the event loop: a thread whose only
   * pending work is a getAsync would simply exit (a worker with exit code 13,
   * "unfinished top-level await"). While any async wait of this instance is
   * pending, one ref'd timer keeps the loop alive; it is created once and
   * then only ref()'d and unref()'d.
   */
  #asyncWaits = 0;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  /** Private cell for sleep(): Atomics.wait needs a shared Int32Array. */
  #sleepCell: Int32Array | undefined;

  constructor(options?: CompletionPortOptions) {
    const attach = (options as AttachRequest | undefined)?.[ATTACH];
    let buffer: SharedArrayBuffer;
    let geo: Geometry;
    let spin: number;
    if (attach !== undefined) {
      const header = readHeader(attach);
      buffer = attach;
      geo = header.geo;
      const override = (options as AttachRequest).spinCount;
      spin = override === undefined ? header.spin : override;
    } else {
      const o = checkOptions('options', options);
      const concurrencyOpt = o.concurrency === undefined ? 0 : checkInteger('options.concurrency', o.concurrency, 0, MAX_THREADS_LIMIT);
      const capacity = o.capacity === undefined ? DEFAULT_CAPACITY : checkInteger('options.capacity', o.capacity, 1, MAX_CAPACITY);
      const maxThreads =
        o.maxThreads === undefined ? DEFAULT_MAX_THREADS : checkInteger('options.maxThreads', o.maxThreads, 1, MAX_THREADS_LIMIT);
      spin = o.spinCount === undefined ? DEFAULT_SPIN : checkInteger('options.spinCount', o.spinCount, 0, 1e9);
      if (o.backend !== undefined && o.backend !== 'portable') {
        // Another backend: the constructor returns its port (same interface) instead of this one.
        const other = otherBackend(o.backend, o as CompletionPortOptions);
        if (other !== undefined) return other;
      }
      geo = geometry(capacity, maxThreads);
      buffer = new SharedArrayBuffer(geo.byteLength);
      const i32 = new Int32Array(buffer);
      i32[H_MAGIC] = MAGIC;
      i32[H_VERSION] = LAYOUT_VERSION;
      i32[H_CAPACITY] = capacity;
      i32[H_RING_SIZE] = geo.ringSize;
      i32[H_MAX_THREADS] = maxThreads;
      i32[H_CONCURRENCY] = concurrencyOpt === 0 ? availableParallelism() : concurrencyOpt;
      i32[H_SPIN] = spin;
      i32[H_BYTE_LENGTH] = geo.byteLength;
      i32[H_RECORDS] = geo.records;
      // Every cell starts free for the first lap: C_SEQ = its position (layout.ts).
      for (let c = 0; c < geo.ringSize; c++) i32[geo.cellBase + c * CELL_WORDS] = c;
    }
    this.#buffer = buffer;
    this.#geo = geo;
    this.#i32 = new Int32Array(buffer);
    this.#f64 = new Float64Array(buffer);
    this.#mem = { i32: this.#i32, f64: this.#f64, geo };
    this.#concurrency = this.#i32[H_CONCURRENCY]!;
    this.#capacity = geo.capacity;
    this.#ringSize = geo.ringSize;
    this.#mask = geo.ringSize - 1;
    this.#cellBase = geo.cellBase;
    this.#spin = spin;
    this.#spinBudget = spin;
    this.handle = Object.freeze({ backend: 'portable', buffer });
  }

  /**
   * Attach to a port created in another thread (or this one) from its
   * `handle`. Throws a TypeError for anything that is not a port handle.
   */
  static from(handle: PortHandle, options?: AttachOptions): CompletionPort {
    if (handle === null || typeof handle !== 'object') {
      throw new TypeError(`handle must be a completion port handle (port.handle), got ${describe(handle)}`);
    }
    if (handle instanceof CompletionPort) {
      throw new TypeError('CompletionPort.from() takes the port\'s handle, not the port: pass port.handle');
    }
    const o = checkOptions('options', options);
    const spinCount = o.spinCount === undefined ? undefined : checkInteger('options.spinCount', o.spinCount, 0, 1e9);
    if (handle.backend === 'native') return requireNative().from(handle) as CompletionPort;
    if (handle.backend !== 'portable' || !isSharedArrayBuffer(handle.buffer)) {
      throw new TypeError('handle must be a completion port handle (port.handle): it has no portable port buffer');
    }
    const request: AttachRequest = { [ATTACH]: handle.buffer, spinCount };
    return new CompletionPort(request as CompletionPortOptions);
  }

  /**
   * `port instanceof CompletionPort` holds for either backend: a native port
   * (returned by this constructor for backend 'native') has the same interface.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, value) || (this === CompletionPort && isNativePort(value));
  }

  /** The cap on running threads (0 given to the constructor is resolved to os.availableParallelism()). */
  get concurrency(): number {
    return this.#concurrency;
  }

  /** How many packets post() may queue before it returns false. */
  get capacity(): number {
    return this.#geo.capacity;
  }

  /**
   * The most iterations this instance's sync waits (get/getMany) spin on
   * their wait word before sleeping (each wait adapts below it). Settable at run time, per instance (per thread),
   * so a thread can adapt it: spinning pays when the next packet comes
   * within microseconds, and only steals a core when it does not.
   */
  get spinCount(): number {
    return this.#spin;
  }

  /** Sets this instance's spin bound (an integer ≥ 0; 0 = never spin); its adaptive budget starts again from it. */
  set spinCount(value: number) {
    this.#spin = checkInteger('spinCount', value, 0, 1e9);
    // The adaptive budget starts again from the new bound (see #waitSync).
    this.#spinBudget = this.#spin;
  }

  // ───────────────────────────── post ─────────────────────────────

  /**
   * PostQueuedCompletionStatus. Hands the packet straight to the newest
   * waiter when the cap allows, else queues it. Returns false when the queue
   * is full (nothing is dropped); throws PortClosedError after close().
   */
  post(bytesTransferred = 0, completionKey = 0, overlapped = 0): boolean {
    // Checks inline: this is the hot path, and a failed check is the rare case.
    // The uint32 is what is stored: it is the same number, except that -0 becomes 0.
    const bytes = bytesTransferred >>> 0;
    if (typeof bytesTransferred !== 'number' || bytes !== bytesTransferred) {
      checkInteger('bytesTransferred', bytesTransferred, 0, 0xffffffff);
    }
    if (!Number.isFinite(completionKey)) checkFinite('completionKey', completionKey);
    if (!Number.isFinite(overlapped)) checkFinite('overlapped', overlapped);
    const claims = this.#claims ?? this.#attachRecord();

    // Always through the RING, never straight into a mailbox: an older packet
    // may still sit in the ring, and FIFO (I1) puts this one after it.
    const i32 = this.#i32;
    let pos = Atomics.load(i32, S_ENQ);
    for (;;) {
      if ((pos & POS_FLAGS) !== 0) return this.#postClosed(pos);
      const cell = this.#cellBase + (pos & this.#mask) * CELL_WORDS;
      const dif = ((Atomics.load(i32, cell) - pos) << 2) >> 2;
      if (dif === 0) {
        if (this.#capacity !== this.#ringSize && !this.#roomFor(pos)) {
          claims[R_POST] = 0;
          return false;
        }
        // I8: recorded before the claim, cleared after the publish; plain
        // stores to this thread's own cache line, ordered by the CASes around them.
        claims[R_POST] = pos | CLAIM;
        const seen = Atomics.compareExchange(i32, S_ENQ, pos, (pos + 1) & POS_MASK);
        if (seen === pos) {
          const f = (cell + C_PAYLOAD) >> 1;
          const f64 = this.#f64;
          f64[f] = bytes;
          f64[f + 1] = completionKey;
          f64[f + 2] = overlapped;
          // A CAS, not a store: if close() ended this claim meanwhile (I7), the publish fails.
          const was = Atomics.compareExchange(i32, cell, pos, (pos + 1) & POS_MASK);
          claims[R_POST] = 0;
          if (was === pos) break;
          pos = this.#postEnded();
          continue;
        }
        pos = seen; // another poster claimed pos first
      } else if (dif < 0) {
        // The cell still holds the packet a lap behind: full, unless a taker is freeing it right now.
        if (!this.#freedSoon(pos, dif)) {
          claims[R_POST] = 0;
          return false;
        }
      } else {
        pos = this.#reload(S_ENQ, pos); // our view of S_ENQ was stale
      }
    }
    // I2: published first, then look for a waiter that may run. With nobody
    // waiting (a busy pool, a pipeline) this is two reads of a line nobody writes.
    if (Atomics.load(i32, S_WAITING) !== 0 && Atomics.load(i32, S_RUNNING) < this.#concurrency) this.#kick();
    return true;
  }

  /**
   * Non-power-of-two capacity: position pos may be filled only once the
   * packet capacity positions before it was taken (I6). That packet's cell
   * says so: its C_SEQ became (its position + ringSize) when it was freed. A
   * taker that has claimed it and not yet freed it does so within
   * nanoseconds: wait a little for it rather than answer "full" with
   * capacity − 1 packets queued.
   */
  #roomFor(pos: number): boolean {
    const before = (pos - this.#capacity) & POS_MASK;
    const cell = this.#cellBase + (before & this.#mask) * CELL_WORDS;
    for (let spin = 0; ; spin++) {
      const d = ((Atomics.load(this.#i32, cell) - before) << 2) >> 2;
      if (d >= this.#ringSize) return true;
      // 0: its poster has not published it; 1: published (and maybe being taken).
      if (d !== 0 && d !== 1) return this.#corrupt(`ring cell of position ${before} has sequence offset ${d}`);
      if (d === 0 || spin >= FREE_SPIN || ((((Atomics.load(this.#i32, S_DEQ) & POS_MASK) - before) << 2) >> 2) <= 0) return false;
    }
  }

  /**
   * Power-of-two capacity, and the cell of pos holds position pos − ringSize:
   * dif = −ringSize (its poster has not published it) or 1 − ringSize
   * (published, not yet freed). If a taker has claimed it, wait a little for
   * the free (I6); true if the cell is free now.
   */
  #freedSoon(pos: number, dif: number): boolean {
    if (dif === -this.#ringSize) return false;
    if (dif !== 1 - this.#ringSize) return this.#corrupt(`ring cell of position ${pos} has sequence offset ${dif}`);
    const i32 = this.#i32;
    const behind = (pos - this.#ringSize) & POS_MASK;
    if (((((Atomics.load(i32, S_DEQ) & POS_MASK) - behind) << 2) >> 2) <= 0) return false; // not taken: full
    const cell = this.#cellBase + (pos & this.#mask) * CELL_WORDS;
    for (let spin = 0; spin < FREE_SPIN; spin++) if (((Atomics.load(i32, cell) - pos) << 2) >> 2 >= 0) return true;
    return false;
  }

  /**
   * A position word read again after its cell said it was stale. Another
   * thread moved it on; if it did not, the cell's sequence number is ahead
   * of the word, which no port writes: corrupt (instead of spinning forever).
   */
  #reload(word: number, pos: number): number {
    const again = Atomics.load(this.#i32, word);
    if (again === pos) return this.#corrupt(`ring cell of position ${pos & POS_MASK} is ahead of ${word === S_ENQ ? 'S_ENQ' : 'S_DEQ'}`);
    return again;
  }

  /** post() saw a flag in S_ENQ: closed (I7). Makes "closed" one instant for takers too, then throws. */
  #postClosed(pos: number): never {
    if ((pos & POS_FLAGS) !== CLOSED_BIT || Atomics.load(this.#i32, S_CLOSED) === OPEN) {
      return this.#corrupt(`S_ENQ = ${pos} on a port that is not closed`);
    }
    Atomics.or(this.#i32, S_DEQ, CLOSED_BIT);
    throw new PortClosedError('post() on a closed completion port');
  }

  /**
   * The publishing CAS failed: the claim was ended for this thread. Only
   * close() ends a live thread's claim (I7, I8), so this post throws
   * PortClosedError — its packet was neither returned by close() nor queued.
   * Returns S_ENQ to try again if the port is, unexpectedly, open.
   */
  #postEnded(): number {
    const pos = Atomics.load(this.#i32, S_ENQ);
    if ((pos & POS_FLAGS) !== 0) return this.#postClosed(pos);
    return pos;
  }

  /** A waiter may run and a packet is queued: release it under the lock (I2). */
  #kick(): void {
    this.#lock();
    try {
      this.#dispatch();
    } finally {
      this.#unlock();
    }
  }

  // ───────────────────────────── get ─────────────────────────────

  /**
   * GetQueuedCompletionStatus. Gives back this thread's running slot, then
   * takes the oldest packet if the cap allows, else waits (newest waiter is
   * released first). Returns null on timeout; throws PortClosedError if the
   * port is or becomes closed.
   */
  get(timeoutMs?: number): CompletionPacket | null {
    const timeout = timeoutMs === undefined ? Infinity : checkTimeout('timeoutMs', timeoutMs);
    // Fast path: a running thread that comes back for work gives back its
    // running slot and takes the next packet — net, its slot stays, and no
    // lock is taken (I2). Most gets in a busy pool end here.
    if (this.#mayTakeWithoutLock() && this.#dequeueInto(0, false)) return this.#scratchPacket(0);
    const w = this.#begin(timeout === 0 ? NO_WAIT : WAITING);
    if (w === TAKE) return this.#scratchPacket(0);
    if (w === NONE) return null;
    const state = this.#waitSync(w, timeout);
    return this.#finish(w, state);
  }

  /**
   * GetQueuedCompletionStatusEx: waits for at least one packet and returns up
   * to `max`. The thread counts as one running thread however many it takes.
   * Returns [] on timeout.
   */
  getMany(max: number, timeoutMs?: number): CompletionPacket[] {
    checkInteger('max', max, 1, 0x7fffffff);
    const timeout = timeoutMs === undefined ? Infinity : checkTimeout('timeoutMs', timeoutMs);
    let first: CompletionPacket | null = null;
    if (this.#mayTakeWithoutLock() && this.#dequeueInto(0, false)) first = this.#scratchPacket(0);
    if (first === null) {
      const w = this.#begin(timeout === 0 ? NO_WAIT : WAITING);
      if (w === NONE) return [];
      if (w === TAKE) first = this.#scratchPacket(0);
      else {
        first = this.#finish(w, this.#waitSync(w, timeout));
        if (first === null) return [];
      }
    }
    const out = [first];
    // This thread holds a running slot now; the rest come without a wait.
    if (max > 1) this.#takeMore(out, max);
    return out;
  }

  /**
   * get() for a thread that must not block: waits with Atomics.waitAsync, so
   * the event loop keeps running. Shares the one LIFO order with sync waiters.
   * Never throws: errors (bad arguments, a closed port) reject the promise.
   */
  getAsync(timeoutMs?: number, options?: GetAsyncOptions): Promise<CompletionPacket | null> {
    let timeout: number;
    let spin = 0;
    let syncMs = 0;
    let w: number;
    try {
      timeout = timeoutMs === undefined ? Infinity : checkTimeout('timeoutMs', timeoutMs);
      if (options !== undefined) {
        const o = checkOptions('options', options);
        if (o.spinCount !== undefined) spin = checkInteger('options.spinCount', o.spinCount, 0, 1e9);
        if (o.syncMs !== undefined) syncMs = checkTimeout('options.syncMs', o.syncMs);
      }
      if (this.#mayTakeWithoutLock() && this.#dequeueInto(0, false)) return Promise.resolve(this.#scratchPacket(0));
      // By default no spin: it would stall the event loop this method exists
      // to keep free. A caller that knows a packet is imminent (a pool with
      // tasks in flight) may ask for a short one.
      w = this.#begin(timeout === 0 ? NO_WAIT : spin > 0 ? WAITING : SLEEPING);
      if (w === TAKE) return Promise.resolve(this.#scratchPacket(0));
      if (w === NONE) return Promise.resolve(null);
    } catch (error) {
      return Promise.reject(error);
    }
    const word = this.#slotWord(w, W_STATE);
    let state = SLEEPING;
    if (spin > 0) {
      // At most the caller's count, within this thread's adaptive budget (see #waitSync): on a
      // loaded machine a spin that never pays only takes the core the poster needs.
      state = this.#spinOn(word, Math.min(spin, this.#spinBudget));
      if (state === WAITING) state = Atomics.compareExchange(this.#i32, word, WAITING, SLEEPING);
      if (state === WAITING) state = SLEEPING;
    }
    if (state === SLEEPING && syncMs > 0) {
      // A caller whose event loop can afford a short stall: a wake-up from Atomics.wait costs less
      // than one through Atomics.waitAsync and the event loop. Same slot, same place on the stack.
      const until = Math.min(syncMs, timeout);
      const start = performance.now();
      let left = until;
      while (left > 0) {
        Atomics.wait(this.#i32, word, SLEEPING, left);
        state = Atomics.load(this.#i32, word);
        if (state !== SLEEPING) break;
        left = until - (performance.now() - start);
      }
      // How long this wait slept tells the next spin whether spinning would have paid.
      if (spin > 0) this.#adaptSpin(performance.now() - start);
      if (state === SLEEPING && timeout !== Infinity) {
        timeout -= performance.now() - start;
        if (timeout <= 0) return this.#settle(w, state); // timed out: #finish decides under the lock
      }
    }
    if (state !== SLEEPING) return this.#settle(w, state);
    return this.#waitAsync(w, timeout);
  }

  /** #finish as a promise (getAsync never throws). */
  #settle(w: number, state: number): Promise<CompletionPacket | null> {
    try {
      return Promise.resolve(this.#finish(w, state));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // ─────────────────────────── blocking ───────────────────────────

  /**
   * Runs fn as a blocking section: this thread's running slot is given back
   * for its duration (a waiter is released if packets are queued), and taken
   * back when fn returns or its promise settles — even past the cap, as the
   * kernel does for a thread that wakes from a blocking call.
   */
  blocking<T>(fn: () => T): T {
    checkFunction('fn', fn);
    this.#ensureRegistered();
    const owner = this.#slotWord(this.#slot, W_RUNNING);
    const i32 = this.#i32;
    this.#lock();
    const held = i32[owner]!;
    try {
      if (held > 0) {
        i32[owner] = 0;
        Atomics.sub(i32, S_RUNNING, held);
        this.#dispatch();
      }
    } finally {
      this.#unlock();
    }
    const slot = this.#slot;
    const reacquire = (): void => {
      if (held === 0 || this.#slot !== slot) return;
      this.#lock();
      i32[owner] = i32[owner]! + held;
      Atomics.add(i32, S_RUNNING, held);
      this.#unlock();
    };
    return afterSettled(fn, reacquire);
  }

  /** Sleeps ms milliseconds as a blocking section (see blocking()). Blocks this thread. */
  sleep(ms: number): void {
    checkTimeout('ms', ms);
    const cell = (this.#sleepCell ??= new Int32Array(new SharedArrayBuffer(4)));
    this.blocking(() => Atomics.wait(cell, 0, 0, ms));
  }

  // ───────────────────────────── close ─────────────────────────────

  /**
   * CloseHandle: wakes every waiter with PortClosedError, makes every later
   * get/post throw, and returns the packets still queued (never dropped
   * silently). Idempotent: a second call returns [] (or packets recovered
   * since from threads that died holding them, see releaseThread).
   */
  close(): CompletionPacket[] {
    this.#lock();
    let count: number;
    try {
      count = this.#closeLocked();
    } finally {
      this.#unlock();
    }
    // A closer that died between its unlock and its notify left CLOSED waiters asleep: wake every one.
    for (let slot = 0; slot < this.#geo.maxThreads; slot++) {
      if (Atomics.load(this.#i32, this.#slotWord(slot, W_STATE)) === CLOSED) Atomics.notify(this.#i32, this.#slotWord(slot, W_STATE));
    }
    const packets: CompletionPacket[] = new Array(count);
    for (let i = 0; i < count; i++) packets[i] = this.#scratchPacket(i * PACKET_F64);
    return packets;
  }

  /**
   * Lock held. The whole close (I7), safe to run again from the start if a
   * closer died in it: close the position words, close the waiters, collect
   * FRONT and the RING positions [S_DEQ, S_ENQ) into scratch without
   * changing them, then commit. Returns the number of packets in scratch.
   */
  #closeLocked(): number {
    const i32 = this.#i32;
    const state = i32[S_CLOSED]!;
    if (state !== OPEN && state !== CLOSING && state !== CLOSED_DONE) return this.#corrupt(`S_CLOSED = ${state}`);
    if (state === OPEN) Atomics.store(i32, S_CLOSED, CLOSING);
    // I7: posters first, then takers; from here on no position is claimed.
    Atomics.or(i32, S_ENQ, CLOSED_BIT);
    const start = Atomics.or(i32, S_DEQ, CLOSED_BIT) & POS_MASK;
    const end = Atomics.load(i32, S_ENQ) & POS_MASK;
    const waiting = this.#checkIndex('S_WAITING', i32[S_WAITING]!, this.#geo.maxThreads + 1);
    for (let i = 0; i < waiting; i++) {
      const slot = this.#checkIndex('waiter stack entry', i32[STACK_BASE + i]!, this.#geo.maxThreads);
      if (Atomics.exchange(i32, this.#slotWord(slot, W_STATE), CLOSED) === SLEEPING) this.#wake.push(slot);
    }
    Atomics.store(i32, S_WAITING, 0);
    const front = frontCount(this.#mem);
    const inRing = (end - start) & POS_MASK;
    if (inRing > this.#capacity) return this.#corrupt(`${inRing} ring positions queued at close`);
    this.#ensureScratch(front + inRing);
    const scratch = this.#scratch;
    let s = 0;
    for (let k = 0; k < front; k++, s += PACKET_F64) readFront(this.#mem, frontIndex(this.#mem, k), scratch, s);
    const waitUntil = { at: 0 };
    for (let pos = start; pos !== end; pos = (pos + 1) & POS_MASK) {
      const cell = this.#cellBase + (pos & this.#mask) * CELL_WORDS;
      const published = (pos + 1) & POS_MASK;
      let seq = Atomics.load(i32, cell);
      if (seq === pos) seq = this.#awaitPublish(pos, cell, waitUntil);
      if (seq === (published | VOID_BIT)) continue;
      if (seq !== published) return this.#corrupt(`ring cell of position ${pos} has sequence ${seq} at close`);
      const f = (cell + C_PAYLOAD) >> 1;
      scratch[s] = this.#f64[f]!;
      scratch[s + 1] = this.#f64[f + 1]!;
      scratch[s + 2] = this.#f64[f + 2]!;
      s += PACKET_F64;
    }
    // Commit: everything collected is now the caller's.
    Atomics.store(i32, S_FRONT_HEAD, i32[S_FRONT_TAIL]!);
    Atomics.store(i32, S_VOID, 0);
    Atomics.store(i32, S_DEQ, end | CLOSED_BIT);
    Atomics.store(i32, S_CLOSED, CLOSED_DONE);
    return s / PACKET_F64;
  }

  /**
   * Lock held, port closing. Position pos was claimed before the close and is
   * not published yet. Its poster is recorded (I8): a dead one never
   * publishes, so its position becomes VOID now; a live one publishes within
   * nanoseconds unless the OS stopped it, so close() waits — at most
   * CLOSE_WAIT_MS for all positions — then makes it VOID, and that post()
   * throws PortClosedError. A position nobody claimed is corrupt. Returns
   * the cell's sequence number after.
   */
  #awaitPublish(pos: number, cell: number, waitUntil: { at: number }): number {
    const i32 = this.#i32;
    for (let spin = 0; spin < PUBLISH_SPIN; spin++) if (Atomics.load(i32, cell) !== pos) return Atomics.load(i32, cell);
    const voided = ((pos + 1) & POS_MASK) | VOID_BIT;
    for (;;) {
      const who = owners(this.#mem, R_POST, pos | CLAIM);
      if (who.live + who.dead === 0 && Atomics.load(i32, S_ANON) === 0) {
        if (Atomics.load(i32, cell) !== pos) return Atomics.load(i32, cell);
        return this.#corrupt(`ring position ${pos} is counted in S_ENQ but no thread claimed it`);
      }
      if (who.live === 0 && who.dead > 0) break;
      if (waitUntil.at === 0) waitUntil.at = performance.now() + CLOSE_WAIT_MS;
      if (performance.now() >= waitUntil.at) break;
      pause();
      if (Atomics.load(i32, cell) !== pos) return Atomics.load(i32, cell);
    }
    const was = Atomics.compareExchange(i32, cell, pos, voided);
    return was === pos ? voided : was;
  }

  /** Whether close() has been called (by any thread). */
  get closed(): boolean {
    return Atomics.load(this.#i32, S_CLOSED) !== OPEN;
  }

  // ───────────────────────── thread slots ─────────────────────────

  /**
   * Gives back everything a thread that has ended still holds: its running
   * slots, its places on the waiter stack, any packet handed to it that it
   * never read (requeued at the front, so it is not lost and keeps its
   * place), and any ring claim it had not finished (I8). Call it from the
   * owner when a worker exits, with the worker's `threadId` captured when it
   * was created (Node sets `worker.threadId` to -1 once the worker has
   * exited). Returns what was released.
   */
  releaseThread(deadThreadId: number): ReleasedThread {
    checkInteger('threadId', deadThreadId, 0, 0x7fffffff);
    const tag = deadThreadId + 1;
    const how = this.#acquireForRelease(tag);
    if (how === DEFERRED) {
      this.#markDead(tag);
      return { running: 0, waiters: 0, requeued: 0, abandoned: [], deferred: true };
    }
    const out: Recovery = { requeued: 0, abandoned: [] };
    let result: { running: number; waiters: number };
    try {
      if (how === INHERITED) rebuildAfterDeath(this.#mem);
      result = this.#releaseLocked(tag, out, RELEASE_CLAIM_WAIT_MS);
      this.#finishPending(out, PENDING_WAIT_MS);
      // A thread killed inside close() left it half done (I7): finish it. On a
      // closed port, what is still queued (a dead closer's collection, packets
      // recovered since) goes to the caller.
      if (this.#i32[S_CLOSED] !== OPEN) this.#collectInto(out.abandoned, this.#closeLocked());
      this.#dispatch();
    } finally {
      this.#unlock();
    }
    if (how === INHERITED) {
      // The dead thread may have died between an unlock and its notify: wake
      // every lock sleeper and every slot that was handed a packet or closed.
      // Each wait re-checks its word, so a spare wake-up costs nothing.
      const i32 = this.#i32;
      Atomics.notify(i32, S_LOCK);
      for (let slot = 0; slot < this.#geo.maxThreads; slot++) {
        const state = Atomics.load(i32, this.#slotWord(slot, W_STATE));
        if (state === HANDED || state === CLOSED) Atomics.notify(i32, this.#slotWord(slot, W_STATE));
      }
    }
    return { running: result.running, waiters: result.waiters, requeued: out.requeued, abandoned: out.abandoned, deferred: false };
  }

  /**
   * Gives back this thread's slots and record; the instance may attach again
   * on its next call. A getAsync of this instance still pending is settled
   * first: rejected if it was still waiting, resolved with its packet if one
   * was already handed to it.
   */
  detach(): void {
    if (this.#slot < 0 && this.#claims === null) return;
    const mine = this.#slot;
    const settled: number[] = [];
    this.#lock();
    try {
      for (const [w, wait] of this.#asyncPending) {
        const word = this.#slotWord(w, W_STATE);
        const state = Atomics.load(this.#i32, word);
        if (state === WAITING || state === SLEEPING) {
          this.#removeWaiter(w);
          wait.error = Object.assign(new Error('detach() was called while this getAsync() was pending'), { code: 'ERR_PORT_DETACHED' });
        } else if (state === HANDED) {
          const m = (this.#geo.slotBase + w * SLOT_WORDS + W_MAILBOX) >> 1;
          wait.packet = { bytesTransferred: num(this.#f64[m]!), completionKey: num(this.#f64[m + 1]!), overlapped: num(this.#f64[m + 2]!) };
        } else {
          wait.error = new PortClosedError();
        }
        wait.done = true;
        Atomics.store(this.#i32, word, IDLE);
        settled.push(w);
      }
      if (mine >= 0) {
        for (let slot = 0; slot < this.#geo.maxThreads; slot++) {
          if (this.#i32[this.#slotWord(slot, W_KIND)] !== FREE && this.#i32[this.#slotWord(slot, W_OWNER)] === mine) {
            this.#freeSlot(slot, { requeued: 0, abandoned: [] }, { running: 0, waiters: 0 });
          }
        }
      }
      if (this.#record >= 0) freeRecord(this.#mem, this.#record);
      this.#dispatch();
    } finally {
      this.#unlock();
    }
    // Wake this instance's own waitAsync calls: each sees it was settled.
    for (const w of settled) Atomics.notify(this.#i32, this.#slotWord(w, W_STATE));
    this.#slot = -1;
    this.#runningWord = -1;
    this.#idle.length = 0;
    this.#record = -1;
    this.#claims = null;
  }

  // ───────────────────────────── stats ─────────────────────────────

  /** A snapshot of the port's counters, taken under its lock (`queued` may move meanwhile). */
  stats(): PortStats {
    const i32 = this.#i32;
    this.#lock();
    try {
      return {
        queued: this.#queuedLocked(),
        running: i32[S_RUNNING]!,
        waiting: i32[S_WAITING]!,
        threads: i32[S_THREADS]!,
        concurrency: this.#concurrency,
        capacity: this.#geo.capacity,
        closed: i32[S_CLOSED] !== OPEN,
        backend: 'portable',
      };
    } finally {
      this.#unlock();
    }
  }

  // ─────────────────────────── internals ───────────────────────────

  #slotWord(slot: number, field: number): number {
    return this.#geo.slotBase + slot * SLOT_WORDS + field;
  }

  /**
   * A value read from shared memory is impossible. Every locked section lets
   * go of the lock in a `finally`, so a throw never leaves the other threads hanging.
   */
  #corrupt(what: string): never {
    throw new PortCorruptedError(what);
  }

  /** Lock held. Bounds-checks an index read from shared memory. */
  #checkIndex(what: string, value: number, limit: number): number {
    if (value >>> 0 !== value || value >= limit) this.#corrupt(`${what} = ${value}, limit ${limit}`);
    return value;
  }

  /** Claims a record for this instance (I8); unrecorded if every record is taken. */
  #attachRecord(): Int32Array {
    const r = allocRecord(this.#mem, MY_TAG);
    if (r < 0) {
      this.#record = -1;
      this.#claims = new Int32Array(RECORD_WORDS);
    } else {
      this.#record = recordBase(this.#mem, r);
      this.#claims = new Int32Array(this.#buffer, this.#record * 4, RECORD_WORDS);
    }
    return this.#claims;
  }

  #lock(): void {
    if (this.#claims === null) this.#attachRecord();
    if (Atomics.compareExchange(this.#i32, S_LOCK, 0, MY_LOCK) !== 0) this.#lockSlow();
    this.#held();
  }

  /** The lock is ours. An unrecorded instance names itself where a lock waiter can check the word (I8). */
  #held(): void {
    this.#holding = true;
    if (this.#record < 0) Atomics.store(this.#i32, S_LOCK_ANON, MY_TAG);
  }

  #lockSlow(): void {
    const i32 = this.#i32;
    for (let i = 0; i < LOCK_SPIN; i++) {
      if (Atomics.load(i32, S_LOCK) === 0 && Atomics.compareExchange(i32, S_LOCK, 0, MY_LOCK) === 0) return;
    }
    // Drepper's mutex, with the holder's tag in the word: LOCK_CONTENDED means
    // "maybe sleepers", so unlock knows to notify. Having slept, we take the
    // lock marked contended, since others may still sleep.
    for (;;) {
      const seen = Atomics.load(i32, S_LOCK);
      if (seen === 0) {
        if (Atomics.compareExchange(i32, S_LOCK, 0, MY_LOCK | LOCK_CONTENDED) === 0) return;
      } else if ((seen & LOCK_CONTENDED) !== 0 || Atomics.compareExchange(i32, S_LOCK, seen, seen | LOCK_CONTENDED) === seen) {
        const word = seen | LOCK_CONTENDED;
        // A holder is only ever waited for (I8). One that holds the lock this
        // long is stopped or dead; if no thread by its name uses the port, the word is corrupt.
        if (Atomics.wait(i32, S_LOCK, word, LOCK_CHECK_MS) === 'timed-out' && Atomics.load(i32, S_LOCK) === word) {
          const tag = word >> 1;
          if (tag === MY_TAG || !threadKnown(this.#mem, tag)) {
            throw new PortCorruptedError(`the lock word ${word} names thread ${tag - 1}, which does not hold it`);
          }
        }
      }
    }
  }

  /**
   * Lets go of the lock, then notifies the slots queued in #wake. Deaths left
   * to the next holder (I9) are finished here by the holder that was in the
   * way, so they never wait for a call that may not come.
   */
  #unlock(): void {
    const i32 = this.#i32;
    if (!this.#finishing && Atomics.load(i32, S_PENDING) !== 0) {
      this.#finishing = true;
      try {
        this.#finishPending({ requeued: 0, abandoned: null }, PENDING_WAIT_MS);
        this.#dispatch();
      } catch {
        // Corrupt: the call that finds it first in its own work reports it.
      } finally {
        this.#finishing = false;
      }
    }
    this.#holding = false;
    if (this.#record < 0) Atomics.store(i32, S_LOCK_ANON, 0);
    if ((Atomics.exchange(i32, S_LOCK, 0) & LOCK_CONTENDED) !== 0) Atomics.notify(i32, S_LOCK, 1);
    const wake = this.#wake;
    if (wake.length > 0) {
      for (let i = 0; i < wake.length; i++) Atomics.notify(i32, this.#slotWord(wake[i]!, W_STATE), 1);
      wake.length = 0;
    }
  }

  #ensureRegistered(): number {
    if (this.#slot >= 0) return this.#slot;
    this.#lock();
    let slot: number;
    try {
      slot = this.#allocSlot(THREAD, -1);
      this.#i32[S_THREADS] = this.#i32[S_THREADS]! + 1;
    } finally {
      this.#unlock();
    }
    this.#slot = slot;
    this.#runningWord = this.#slotWord(slot, W_RUNNING);
    this.#idle.push(slot);
    return slot;
  }

  /** Lock held. Finds a FREE slot and claims it; throws if the table is full. W_KIND last: a holder that dies half way leaves it FREE. */
  #allocSlot(kind: number, owner: number): number {
    const i32 = this.#i32;
    for (let slot = 0; slot < this.#geo.maxThreads; slot++) {
      const k = this.#slotWord(slot, W_KIND);
      if (i32[k] === FREE) {
        i32[this.#slotWord(slot, W_THREAD_ID)] = threadId;
        i32[this.#slotWord(slot, W_OWNER)] = owner < 0 ? slot : owner;
        i32[this.#slotWord(slot, W_RUNNING)] = 0;
        i32[this.#slotWord(slot, W_DEAD)] = 0;
        Atomics.store(i32, this.#slotWord(slot, W_STATE), IDLE);
        i32[k] = kind;
        return slot;
      }
    }
    throw new RangeError(
      `the completion port has no free thread slot: ${this.#geo.maxThreads} threads or concurrent getAsync calls ` +
        'are attached (raise options.maxThreads, or call releaseThread()/detach() for threads that ended)',
    );
  }

  /**
   * May this thread take the next packet without the lock? Only if it holds
   * a running slot (it gives it back and takes it again at once, so
   * S_RUNNING does not change, I2) and it may run (S_RUNNING ≤ concurrency:
   * after giving back it is below the cap). FRONT goes first (I1): its flag
   * in S_DEQ sends the take to the lock.
   */
  #mayTakeWithoutLock(): boolean {
    const i32 = this.#i32;
    return this.#runningWord >= 0 && Atomics.load(i32, this.#runningWord) > 0 && Atomics.load(i32, S_RUNNING) <= this.#concurrency;
  }

  /**
   * The one claim loop of every taker: takes the packet at S_DEQ off the
   * RING into scratch[s..s+2], skipping VOID positions. False when none is
   * published yet, the port is closed, or FRONT holds packets (they go
   * first, under the lock). With or without the lock. With `hold` (the lock
   * holder handing the packet to a waiter, I8), the cell stays claimed
   * until #freeHeld().
   */
  #dequeueInto(s: number, hold: boolean): boolean {
    const i32 = this.#i32;
    const claims = this.#claims!;
    let pos = Atomics.load(i32, S_DEQ);
    for (;;) {
      if ((pos & POS_FLAGS) !== 0) {
        claims[R_TAKE] = 0;
        return this.#dequeueFlagged(pos);
      }
      const cell = this.#cellBase + (pos & this.#mask) * CELL_WORDS;
      const seq = Atomics.load(i32, cell);
      // VOID_BIT is shifted out: a VOID position is claimed like a packet.
      const dif = ((seq - pos - 1) << 2) >> 2;
      if (dif === 0) {
        claims[R_TAKE] = pos | CLAIM; // I8: before the claim
        const seen = Atomics.compareExchange(i32, S_DEQ, pos, (pos + 1) & POS_MASK);
        if (seen === pos) {
          const f = (cell + C_PAYLOAD) >> 1;
          const f64 = this.#f64;
          const scratch = this.#scratch;
          scratch[s] = f64[f]!;
          scratch[s + 1] = f64[f + 1]!;
          scratch[s + 2] = f64[f + 2]!;
          if (hold && (seq & VOID_BIT) === 0) {
            this.#heldCell = cell;
            this.#heldSeq = seq;
            this.#heldPos = pos;
            return true;
          }
          // A CAS: if the claim was finished for this thread meanwhile (it was taken for dead), the packet is not ours.
          const freed = Atomics.compareExchange(i32, cell, seq, (pos + this.#ringSize) & POS_MASK);
          claims[R_TAKE] = 0;
          if (freed === seq) {
            if ((seq & VOID_BIT) === 0) return true;
            Atomics.sub(i32, S_VOID, 1); // a VOID position: nothing to deliver, take the next
          }
          pos = Atomics.load(i32, S_DEQ);
          continue;
        }
        pos = seen;
      } else if (dif < 0) {
        claims[R_TAKE] = 0;
        // -1: its poster has not published it; -ringSize: a taker a lap behind is still freeing it.
        if (dif !== -1 && dif !== -this.#ringSize) this.#corrupt(`ring cell of position ${pos} has sequence ${seq}`);
        return false;
      } else {
        pos = this.#reload(S_DEQ, pos);
      }
    }
  }

  /** S_DEQ carries a flag: closed, or FRONT holds packets; no ring take now. Under the lock, checks the flag is true. */
  #dequeueFlagged(pos: number): false {
    if (this.#holding) {
      const i32 = this.#i32;
      if ((pos & CLOSED_BIT) !== 0 && i32[S_CLOSED] === OPEN) this.#corrupt(`S_DEQ = ${pos} on an open port`);
      if ((pos & FRONT_BIT) !== 0 && frontCount(this.#mem) === 0) this.#corrupt(`S_DEQ = ${pos} with FRONT empty`);
    }
    return false;
  }

  /** Lock held, after #dequeueInto(…, true): frees the held cell and clears the record. */
  #freeHeld(): void {
    Atomics.compareExchange(this.#i32, this.#heldCell, this.#heldSeq, (this.#heldPos + this.#ringSize) & POS_MASK);
    this.#claims![R_TAKE] = 0;
  }

  /** Lock held. The oldest queued packet (FRONT, then RING) into scratch[s..s+2], or false if none. */
  #takeLocked(s: number): boolean {
    if (takeFront(this.#mem, this.#scratch, s)) return true;
    return this.#dequeueInto(s, false);
  }

  /**
   * Lock held. Packets queued: FRONT plus the RING's positions, less VOID
   * ones. enq − deq never exceeds capacity (I6); read against a deq that did
   * not move meanwhile, a larger count is corrupt.
   */
  #queuedLocked(): number {
    const i32 = this.#i32;
    // S_DEQ first: S_ENQ only grows, so the S_ENQ read after it is never behind it.
    const deq = Atomics.load(i32, S_DEQ) & POS_MASK;
    const positions = ((Atomics.load(i32, S_ENQ) & POS_MASK) - deq) & POS_MASK;
    if (positions > this.#capacity && (Atomics.load(i32, S_DEQ) & POS_MASK) === deq) {
      this.#corrupt(`${positions} ring positions queued, capacity ${this.#capacity}`);
    }
    return frontCount(this.#mem) + Math.max(0, Math.min(positions, this.#capacity) - Atomics.load(i32, S_VOID));
  }

  #scratchPacket(s: number): CompletionPacket {
    const scratch = this.#scratch;
    return { bytesTransferred: num(scratch[s]!), completionKey: num(scratch[s + 1]!), overlapped: num(scratch[s + 2]!) };
  }

  #ensureScratch(packets: number): void {
    const need = packets * PACKET_F64;
    if (this.#scratch.length < need) this.#scratch = new Float64Array(Math.max(need, this.#scratch.length * 2));
  }

  /** Appends `count` packets from scratch to `out`. */
  #collectInto(out: CompletionPacket[], count: number): void {
    for (let i = 0; i < count; i++) out.push(this.#scratchPacket(i * PACKET_F64));
  }

  /**
   * The slow start of every get: attach if needed, lock, give back this
   * thread's running slot, throw if closed; then take the oldest packet if
   * the cap allows (TAKE: it is in scratch[0..2], and the caller counts as
   * running), else return NONE (waiterState NO_WAIT) or push a waiter in
   * waiterState and return its slot. The lock is released before return.
   */
  #begin(waiterState: number): number {
    if (this.#slot < 0) this.#ensureRegistered();
    const i32 = this.#i32;
    this.#lock();
    try {
      const owner = this.#runningWord;
      const held = i32[owner]!;
      if (held > 0) {
        // Give back one running slot: this thread is done with the packet it had.
        i32[owner] = held - 1;
        Atomics.sub(i32, S_RUNNING, 1);
      }
      const closed = i32[S_CLOSED]!;
      if (closed !== OPEN) {
        if (closed !== CLOSING && closed !== CLOSED_DONE) this.#corrupt(`S_CLOSED = ${closed}`);
        throw new PortClosedError();
      }
      const running = i32[S_RUNNING]!;
      if (running >>> 0 !== running || running > 2 * this.#geo.maxThreads) this.#corrupt(`S_RUNNING = ${running}`);
      // A thread that comes back to get while packets wait takes one at once,
      // without sleeping — even if older waiters exist (they are over the cap).
      if (running < this.#concurrency && this.#takeLocked(0)) {
        i32[owner] = i32[owner]! + 1;
        Atomics.add(i32, S_RUNNING, 1);
        return TAKE;
      }
      if (waiterState === NO_WAIT) return NONE;
      const w = this.#pushWaiter(waiterState);
      // I2: a packet published after our look above and before the push saw no
      // waiter; the dispatch catches it (and hands it to us: we are the newest).
      this.#dispatch();
      return w;
    } finally {
      this.#unlock();
    }
  }

  /** Lock held. Pushes one of this instance's idle slots on the waiter stack. */
  #pushWaiter(state: number): number {
    const i32 = this.#i32;
    let w = this.#idle.pop();
    if (w === undefined) w = this.#allocSlot(EXTRA, this.#slot);
    const waiting = this.#checkIndex('S_WAITING', i32[S_WAITING]!, this.#geo.maxThreads);
    Atomics.store(i32, this.#slotWord(w, W_STATE), state);
    i32[STACK_BASE + waiting] = w;
    // A seq-cst store: a poster that publishes after it sees the waiter (I2).
    Atomics.store(i32, S_WAITING, waiting + 1);
    return w;
  }

  /** Lock held, S_WAITING > 0. Pops the newest waiter (LIFO). */
  #popWaiter(): number {
    const i32 = this.#i32;
    const top = this.#checkIndex('S_WAITING', i32[S_WAITING]! - 1, this.#geo.maxThreads);
    Atomics.store(i32, S_WAITING, top);
    return this.#checkIndex('waiter stack entry', i32[STACK_BASE + top]!, this.#geo.maxThreads);
  }

  /**
   * Lock held. Writes the packet into the slot's mailbox, counts its owner as
   * running (I4), and marks it HANDED. Returns the state it had, so the
   * caller notifies only a sleeper.
   */
  #handTo(slot: number, bytesTransferred: number, completionKey: number, overlapped: number): number {
    const i32 = this.#i32;
    const base = this.#geo.slotBase + slot * SLOT_WORDS;
    const m = (base + W_MAILBOX) >> 1;
    this.#f64[m] = bytesTransferred;
    this.#f64[m + 1] = completionKey;
    this.#f64[m + 2] = overlapped;
    const owner = this.#checkIndex('slot owner', i32[base + W_OWNER]!, this.#geo.maxThreads);
    const ownerRunning = this.#slotWord(owner, W_RUNNING);
    // HANDED before the count: a holder that dies in between leaves a thread
    // counted one short (it gives back nothing it does not hold), never a
    // waiter counted as running that is never woken.
    const was = Atomics.exchange(i32, base + W_STATE, HANDED);
    i32[ownerRunning] = i32[ownerRunning]! + 1;
    Atomics.add(i32, S_RUNNING, 1);
    return was;
  }

  /**
   * Lock held. Restores I2: releases waiters (newest first) while packets
   * are queued and the cap allows; sleepers go to #wake, notified on unlock.
   * A packet is taken off FRONT or the RING only once its waiter is HANDED,
   * with the waiter named in the record meanwhile (I8): a holder that dies
   * half way leaves the packet either queued or handed, never both or neither.
   */
  #dispatch(): void {
    const i32 = this.#i32;
    const claims = this.#claims!;
    const recorded = this.#record >= 0;
    while (i32[S_WAITING]! > 0 && i32[S_RUNNING]! < this.#concurrency) {
      let fromFront = false;
      if (frontCount(this.#mem) > 0) {
        const head = i32[S_FRONT_HEAD]!;
        readFront(this.#mem, head, this.#scratch, 0);
        fromFront = true;
        // Unrecorded, a death between here and the hand-over loses the packet rather than delivering it twice.
        if (recorded) claims[R_FRONT] = head + 1;
        else removeFrontHead(this.#mem);
      } else if (!this.#dequeueInto(0, recorded)) {
        return;
      }
      const slot = this.#popWaiter();
      claims[R_TARGET] = slot + 1;
      const scratch = this.#scratch;
      if (this.#handTo(slot, scratch[0]!, scratch[1]!, scratch[2]!) === SLEEPING) this.#wake.push(slot);
      if (recorded) {
        if (fromFront) {
          removeFrontHead(this.#mem);
          claims[R_FRONT] = 0;
        } else {
          this.#freeHeld();
        }
      }
      claims[R_TARGET] = 0;
    }
  }

  /**
   * getMany after its first packet: this thread holds a running slot, so it
   * takes more without a wait — from the RING without the lock, or, when
   * packets wait in FRONT (rare), under the lock. Closed means nothing more
   * to take (I7).
   */
  #takeMore(out: CompletionPacket[], max: number): void {
    while (out.length < max && this.#dequeueInto(0, false)) out.push(this.#scratchPacket(0));
    if (out.length >= max || (Atomics.load(this.#i32, S_DEQ) & (FRONT_BIT | CLOSED_BIT)) !== FRONT_BIT) return;
    const want = Math.min(max - out.length, this.#capacity + this.#geo.frontSize);
    this.#ensureScratch(want);
    this.#lock();
    let count = 0;
    try {
      while (count < want && this.#takeLocked(count * PACKET_F64)) count++;
    } finally {
      this.#unlock();
    }
    // Objects are made after unlock: a thread that dies of OOM never dies holding the lock.
    this.#collectInto(out, count);
  }

  /**
   * Waits on slot w's word until it is no longer WAITING/SLEEPING or the
   * timeout passes. Spins first: a hot thread usually gets its next packet
   * within microseconds, and a spinner costs the poster no notify.
   *
   * The spin adapts, as .NET's LowLevelLifoSemaphore does: a fixed spin
   * shorter than a futex wake-up (~15–20 µs) locks a ping-pong into both
   * sides sleeping every round, and a long fixed spin burns CPU on every idle
   * thread. So each thread times its sleeps: a short one doubles its spin
   * budget (a longer spin would have caught the packet), a long one halves it.
   * Only the sleep path reads the clock; a packet caught spinning costs none.
   */
  #waitSync(w: number, timeout: number): number {
    const i32 = this.#i32;
    const word = this.#slotWord(w, W_STATE);
    let state = this.#spinOn(word, this.#spinBudget);
    if (state !== WAITING) return state;
    // Announce the sleep; a poster that already handed us a packet makes the CAS fail.
    state = Atomics.compareExchange(i32, word, WAITING, SLEEPING);
    if (state !== WAITING) return state;
    const asleep = performance.now();
    if (timeout === Infinity) {
      do {
        Atomics.wait(i32, word, SLEEPING);
        state = Atomics.load(i32, word);
      } while (state === SLEEPING);
    } else {
      const deadline = asleep + timeout;
      for (;;) {
        const remaining = deadline - performance.now();
        if (remaining <= 0) {
          state = Atomics.load(i32, word);
          break;
        }
        Atomics.wait(i32, word, SLEEPING, remaining);
        state = Atomics.load(i32, word);
        if (state !== SLEEPING) break;
      }
    }
    this.#adaptSpin(performance.now() - asleep);
    return state;
  }

  /** Spins up to n iterations while slot word stays WAITING; returns the last state seen. */
  #spinOn(word: number, n: number): number {
    const i32 = this.#i32;
    let state = WAITING;
    for (let i = n; i > 0; i--) {
      state = Atomics.load(i32, word);
      if (state !== WAITING) return state;
    }
    return state;
  }

  #adaptSpin(sleptMs: number): void {
    const max = this.#spin;
    if (sleptMs < SHORT_SLEEP_MS) {
      this.#spinBudget = Math.min(max, this.#spinBudget * 2 || 1);
    } else {
      this.#spinBudget = Math.max(Math.floor(max / MIN_SPIN_DIVISOR), this.#spinBudget >> 1);
    }
  }

  async #waitAsync(w: number, timeout: number): Promise<CompletionPacket | null> {
    const i32 = this.#i32;
    const word = this.#slotWord(w, W_STATE);
    const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
    const wait: AsyncWait = { done: false, packet: null, error: undefined };
    this.#asyncPending.set(w, wait);
    if (this.#asyncWaits++ === 0) {
      if (this.#keepAlive === undefined) this.#keepAlive = setInterval(keepAlive, 0x40000000);
      else this.#keepAlive.ref();
    }
    let state = Atomics.load(i32, word);
    try {
      while (!wait.done && state === SLEEPING) {
        const remaining = deadline === Infinity ? undefined : deadline - performance.now();
        if (remaining !== undefined && remaining <= 0) break;
        const result = Atomics.waitAsync(i32, word, SLEEPING, remaining);
        if (result.async) await result.value;
        // A late notify meant for an earlier wait on this slot can wake us early: loop.
        // detach() settles the wait first (the slot may already serve another thread): look at that first.
        if (!wait.done) state = Atomics.load(i32, word);
      }
    } finally {
      if (this.#asyncPending.get(w) === wait) this.#asyncPending.delete(w);
      if (--this.#asyncWaits === 0) this.#keepAlive!.unref();
    }
    if (wait.done) {
      if (wait.error !== undefined) throw wait.error;
      return wait.packet;
    }
    return this.#finish(w, state);
  }

  /**
   * End of a wait on slot w. HANDED: the packet is ours (already counted
   * running). CLOSED: throw. Still WAITING/SLEEPING: timed out — but a
   * poster may hand us a packet right now, so decide under the lock.
   */
  #finish(w: number, state: number): CompletionPacket | null {
    const i32 = this.#i32;
    const word = this.#slotWord(w, W_STATE);
    if (state === WAITING || state === SLEEPING) {
      this.#lock();
      try {
        state = Atomics.load(i32, word);
        if (state === WAITING || state === SLEEPING) {
          this.#removeWaiter(w);
          Atomics.store(i32, word, IDLE);
          this.#idle.push(w);
          return null;
        }
      } finally {
        this.#unlock();
      }
    }
    if (state === HANDED) {
      const m = (this.#geo.slotBase + w * SLOT_WORDS + W_MAILBOX) >> 1;
      const f64 = this.#f64;
      const packet = { bytesTransferred: num(f64[m]!), completionKey: num(f64[m + 1]!), overlapped: num(f64[m + 2]!) };
      Atomics.store(i32, word, IDLE);
      this.#idle.push(w);
      return packet;
    }
    if (state === CLOSED) {
      Atomics.store(i32, word, IDLE);
      this.#idle.push(w);
      throw new PortClosedError();
    }
    throw new PortCorruptedError(`waiter slot ${w} in state ${state}`);
  }

  /** Lock held. Takes slot w off the waiter stack wherever it is (a timed-out waiter need not be on top). */
  #removeWaiter(w: number): void {
    const i32 = this.#i32;
    const waiting = this.#checkIndex('S_WAITING', i32[S_WAITING]!, this.#geo.maxThreads + 1);
    let i = waiting - 1;
    while (i >= 0 && i32[STACK_BASE + i] !== w) i--;
    if (i < 0) this.#corrupt(`waiter slot ${w} is not on the waiter stack`);
    for (; i < waiting - 1; i++) i32[STACK_BASE + i] = i32[STACK_BASE + i + 1]!;
    Atomics.store(i32, S_WAITING, waiting - 1);
  }

  // ───────────────────────── death (I8, I9) ─────────────────────────

  /**
   * releaseThread's lock (I9). Takes it when free; inherits it from the
   * thread being released (the lock word names its holder); otherwise waits
   * — a live holder lets go within microseconds — for up to
   * RELEASE_LOCK_WAIT_MS, then leaves the release to the next holder: the
   * holder may have died too, its death not reported yet (two workers
   * terminated at once, reported one by one to the thread calling this).
   */
  #acquireForRelease(tag: number): number {
    const i32 = this.#i32;
    if (this.#claims === null) this.#attachRecord();
    let last = 0;
    let since = 0;
    for (let spin = 0; ; spin++) {
      const held = Atomics.load(i32, S_LOCK);
      if (held === 0) {
        if (Atomics.compareExchange(i32, S_LOCK, 0, MY_LOCK) === 0) break;
        continue;
      }
      if (held >> 1 === tag) {
        // We inherit its sleepers too, so the contended mark stays.
        if (Atomics.compareExchange(i32, S_LOCK, held, MY_LOCK | (held & LOCK_CONTENDED)) === held) {
          this.#held();
          return INHERITED;
        }
        continue;
      }
      if (held === Atomics.load(i32, S_STUCK_LOCK)) return DEFERRED; // waited out by an earlier release
      if (held !== last) {
        last = held;
        since = performance.now();
      } else if (performance.now() - since >= RELEASE_LOCK_WAIT_MS) {
        Atomics.store(i32, S_STUCK_LOCK, held);
        return DEFERRED;
      }
      if (spin >= LOCK_SPIN) {
        // Marked contended, its holder's unlock notifies us.
        if ((held & LOCK_CONTENDED) === 0) Atomics.compareExchange(i32, S_LOCK, held, held | LOCK_CONTENDED);
        else Atomics.wait(i32, S_LOCK, held, 1);
      }
    }
    this.#held();
    return LOCKED;
  }

  /** Without the lock: marks a dead thread's slots and records for the next lock holder (I9). */
  #markDead(tag: number): void {
    const i32 = this.#i32;
    let found = 0;
    for (let slot = 0; slot < this.#geo.maxThreads; slot++) {
      if (i32[this.#slotWord(slot, W_KIND)] !== FREE && i32[this.#slotWord(slot, W_THREAD_ID)] === tag - 1) {
        Atomics.store(i32, this.#slotWord(slot, W_DEAD), 1);
        found++;
      }
    }
    for (const base of recordsOf(this.#mem, tag)) {
      Atomics.store(i32, base + R_DEAD, 1);
      found++;
    }
    if (found === 0 && Atomics.load(i32, S_ANON) > 0) Atomics.store(i32, S_NEED_SCAN, 1);
    Atomics.add(i32, S_PENDING, 1);
  }

  /**
   * Lock held. Releases one dead thread: first its claims (I8: its records;
   * they may name a waiter it was handing a packet to, whose state decides),
   * then its slots. A record whose claim stays ambiguous after `waitMs` is
   * left marked dead for a later holder (I9).
   */
  #releaseLocked(tag: number, out: Recovery, waitMs: number): { running: number; waiters: number } {
    const i32 = this.#i32;
    const records = recordsOf(this.#mem, tag);
    for (const base of records) Atomics.store(i32, base + R_DEAD, 1);
    for (const base of records) {
      if (finishClaims(this.#mem, base, out, waitMs)) freeRecord(this.#mem, base);
      else Atomics.add(i32, S_PENDING, 1);
    }
    // An unrecorded thread's claims are in no record: a scan finds them.
    if (records.length === 0 && Atomics.load(i32, S_ANON) > 0) scanRing(this.#mem, out, waitMs);
    const counts = { running: 0, waiters: 0 };
    for (let slot = 0; slot < this.#geo.maxThreads; slot++) {
      if (i32[this.#slotWord(slot, W_KIND)] !== FREE && i32[this.#slotWord(slot, W_THREAD_ID)] === tag - 1) {
        this.#freeSlot(slot, out, counts);
      }
    }
    return counts;
  }

  /** Lock held. Frees one slot: off the stack if waiting, its handed packet recovered, its running slots given back. */
  #freeSlot(slot: number, out: Recovery, counts: { running: number; waiters: number }): void {
    const i32 = this.#i32;
    const kindWord = this.#slotWord(slot, W_KIND);
    const stateWord = this.#slotWord(slot, W_STATE);
    const state = Atomics.load(i32, stateWord);
    if (state === WAITING || state === SLEEPING) {
      this.#removeWaiter(slot);
      counts.waiters++;
    } else if (state === HANDED) {
      // Handed but never read: put it back in front, where it came from.
      const m = (this.#geo.slotBase + slot * SLOT_WORDS + W_MAILBOX) >> 1;
      recover(this.#mem, out, this.#f64[m]!, this.#f64[m + 1]!, this.#f64[m + 2]!);
    }
    if (i32[kindWord] === THREAD) {
      const held = i32[this.#slotWord(slot, W_RUNNING)]!;
      Atomics.sub(i32, S_RUNNING, held);
      counts.running += held;
      i32[S_THREADS] = i32[S_THREADS]! - 1;
    }
    Atomics.store(i32, stateWord, IDLE);
    i32[this.#slotWord(slot, W_RUNNING)] = 0;
    i32[this.#slotWord(slot, W_DEAD)] = 0;
    i32[kindWord] = FREE;
  }

  /**
   * Lock held. Finishes the deaths left for a later holder (I9): each thread
   * whose slots or records are marked dead, and an unrecorded thread's ring
   * scan. What stays ambiguous stays pending. Recovered packets go to FRONT,
   * or to `out.abandoned` once the port is closed (to FRONT if there is no
   * caller to give them to: the next close() returns them).
   */
  #finishPending(out: { requeued: number; abandoned: CompletionPacket[] | null }, waitMs: number): void {
    const i32 = this.#i32;
    if (Atomics.load(i32, S_PENDING) === 0) return;
    Atomics.store(i32, S_PENDING, 0);
    Atomics.store(i32, S_STUCK_LOCK, 0);
    const tags = new Set<number>();
    for (let slot = 0; slot < this.#geo.maxThreads; slot++) {
      if (i32[this.#slotWord(slot, W_KIND)] !== FREE && Atomics.load(i32, this.#slotWord(slot, W_DEAD)) !== 0) {
        tags.add(i32[this.#slotWord(slot, W_THREAD_ID)]! + 1);
      }
    }
    for (let r = 0; r < this.#geo.records; r++) {
      const base = recordBase(this.#mem, r);
      if (Atomics.load(i32, base + R_TID) !== 0 && Atomics.load(i32, base + R_DEAD) !== 0) tags.add(i32[base + R_TID]!);
    }
    const recovery: Recovery = { requeued: 0, abandoned: out.abandoned ?? [] };
    for (const tag of tags) this.#releaseLocked(tag, recovery, waitMs);
    if (Atomics.load(i32, S_NEED_SCAN) !== 0) {
      Atomics.store(i32, S_NEED_SCAN, 0);
      scanRing(this.#mem, recovery, waitMs);
    }
    // Closed and no caller to hand them to: keep them in FRONT for the next close().
    if (out.abandoned === null) for (const p of recovery.abandoned) requeueFront(this.#mem, p.bytesTransferred, p.completionKey, p.overlapped);
    out.requeued += recovery.requeued;
  }
}

/**
 * backend 'native' → the native port (or the error saying why it cannot load);
 * 'auto' → native on Windows when koffi loads, else undefined (stay portable).
 */
function otherBackend(backend: unknown, options: CompletionPortOptions): CompletionPort | undefined {
  if (backend === 'native') return requireNative().create(options) as CompletionPort;
  if (backend === 'auto') return autoNative()?.create(options) as CompletionPort | undefined;
  throw new RangeError(`options.backend must be 'portable', 'native' or 'auto', got ${describe(backend)}`);
}

/** Validates a buffer that claims to be a port; every header field is bounds-checked. */
function readHeader(buffer: SharedArrayBuffer): { geo: Geometry; spin: number } {
  const bad = (why: string): never => {
    throw new TypeError(`handle must be a completion port handle (port.handle): ${why}`);
  };
  if (buffer.byteLength < (STACK_BASE + 1) * 4) bad('its buffer is too small');
  const i32 = new Int32Array(buffer, 0, STACK_BASE);
  if (i32[H_MAGIC] !== MAGIC) bad('its buffer has no port header');
  if (i32[H_VERSION] !== LAYOUT_VERSION) bad(`layout version ${i32[H_VERSION]} is not ${LAYOUT_VERSION}`);
  const capacity = i32[H_CAPACITY]!;
  const maxThreads = i32[H_MAX_THREADS]!;
  const concurrency = i32[H_CONCURRENCY]!;
  const spin = i32[H_SPIN]!;
  if (capacity < 1 || capacity > MAX_CAPACITY) bad(`capacity ${capacity} out of range`);
  if (maxThreads < 1 || maxThreads > MAX_THREADS_LIMIT) bad(`maxThreads ${maxThreads} out of range`);
  if (concurrency < 1 || concurrency > MAX_THREADS_LIMIT) bad(`concurrency ${concurrency} out of range`);
  if (spin < 0) bad(`spin count ${spin} out of range`);
  const geo = geometry(capacity, maxThreads);
  if (
    i32[H_RING_SIZE] !== geo.ringSize ||
    i32[H_RECORDS] !== geo.records ||
    i32[H_BYTE_LENGTH] !== geo.byteLength ||
    buffer.byteLength !== geo.byteLength
  ) {
    bad('its header does not match its size');
  }
  return { geo, spin };
}
