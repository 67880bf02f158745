/**
 * CompletionPort — the portable backend: an I/O completion port in a
 * SharedArrayBuffer, usable from any thread that holds `port.handle`.
 *
 * The memory layout and the invariants I1–I7 that every method keeps are in
 * ./layout.ts; read them first. In short: one small mutex (S_LOCK) guards the
 * ring, the waiter stack and the counters; each waiting thread sleeps on the
 * wait word of its own slot, so the poster can wake exactly the thread it
 * chose (the newest waiter: LIFO) and hand it the packet through the slot's
 * mailbox (a woken thread always has work, and never fights for it).
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
import {
  C_PAYLOAD,
  CELL_WORDS,
  CLOSED,
  CLOSED_BIT,
  EXTRA,
  FREE,
  type Geometry,
  geometry,
  H_BYTE_LENGTH,
  H_CAPACITY,
  H_CONCURRENCY,
  H_MAGIC,
  H_MAX_THREADS,
  H_RING_SIZE,
  H_SPIN,
  H_VERSION,
  HANDED,
  IDLE,
  LAYOUT_VERSION,
  MAGIC,
  PACKET_F64,
  POS_MASK,
  S_CLOSED,
  S_DEQ,
  S_ENQ,
  S_FRONT_COUNT,
  S_FRONT_HEAD,
  LOCK_CONTENDED,
  S_LOCK,
  S_RUNNING,
  S_THREADS,
  S_VOID,
  S_WAITING,
  SLEEPING,
  SLOT_WORDS,
  STACK_BASE,
  THREAD,
  W_KIND,
  W_MAILBOX,
  W_OWNER,
  W_RUNNING,
  W_STATE,
  W_THREAD_ID,
  WAITING,
} from './layout.js';
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
const MAX_CAPACITY = 1 << 24;
const MAX_THREADS_LIMIT = 1 << 16;

/**
 * What this thread writes into S_LOCK to hold it: its threadId + 1, shifted
 * past LOCK_CONTENDED. Never 0 (free), and it names the holder in the same
 * word and the same CAS that takes the lock, so a holder that dies at any
 * point is known (releaseThread takes the lock over).
 */
const MY_LOCK = (threadId + 1) * 2;

function keepAlive(): void {}

/**
 * A number read from a Float64Array is a heap double even when it is 7.
 * Handed to user code as is, it trains their functions on doubles (double
 * arithmetic, boxed results: 1.6× slower on a recursive integer function
 * here). Integers come back in V8's small-integer form; -0 and the rest as
 * they are.
 */
function num(value: number): number {
  const int = value | 0;
  return int === value && (int !== 0 || 1 / value > 0) ? int : value;
}

/** #begin's answers besides a waiter slot (slot indices are ≥ 0): a packet was taken into scratch, or none and no wait. */
const TAKE = -1;
const NONE = -2;
/** #begin's waiterState for a call that must not wait (timeout 0). */
const NO_WAIT = 0;
/** Iterations close() spins on a claimed cell before it sleeps between looks. */
const PUBLISH_SPIN = 1000;
/**
 * How long a claim on a ring cell may stay unfinished before it is taken to
 * belong to a dead thread (layout.ts I8). A live thread finishes one within
 * nanoseconds; only a thread stopped between its claim and its publish (or
 * free) leaves one for good.
 */
const ABANDONED_CLAIM_MS = 1000;
/** How long releaseThread() waits on a lock held without a pause by one other thread before it takes the holder for dead. */
const ABANDONED_LOCK_MS = 1000;
/** bytesTransferred of a VOID cell: a position whose poster died before publishing (never a valid uint32). */
const VOID = -1;

/** Passed through the constructor by from(): attaching must not create a new buffer. */
const ATTACH = Symbol('attach');

interface AttachRequest {
  [ATTACH]: SharedArrayBuffer;
  spinCount?: number;
}

function isSharedArrayBuffer(value: unknown): value is SharedArrayBuffer {
  return Object.prototype.toString.call(value) === '[object SharedArrayBuffer]';
}

export class CompletionPort {
  /** Structured-cloneable: send it to a worker and call `CompletionPort.from(handle)` there. */
  readonly handle!: PortHandle;

  readonly #i32!: Int32Array;
  readonly #f64!: Float64Array;
  readonly #geo!: Geometry;
  readonly #concurrency!: number;
  // Copies of geometry fields, read on every post/get.
  readonly #capacity!: number;
  readonly #ringSize!: number;
  readonly #mask!: number;
  readonly #cellBase!: number;
  /** Int32 index of this instance's THREAD slot's W_RUNNING, or -1 before it registers. */
  #runningWord = -1;
  /** The most this thread spins (settable: spinCount); its current budget is #spinBudget. */
  #spin!: number;
  #spinBudget!: number;
  /** This instance's THREAD slot, or -1 until the first call that waits or runs. */
  #slot = -1;
  /** Slots owned by this instance and not in a wait right now (the THREAD slot first). */
  readonly #idle: number[] = [];
  /** Where packets taken under the lock are copied: objects are made after unlock. */
  #scratch = new Float64Array(PACKET_F64 * 16);
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
    if (attach !== undefined) {
      const { geo, spin } = readHeader(attach);
      this.#geo = geo;
      this.#i32 = new Int32Array(attach);
      this.#f64 = new Float64Array(attach);
      this.#concurrency = this.#i32[H_CONCURRENCY]!;
      this.#capacity = geo.capacity;
      this.#ringSize = geo.ringSize;
      this.#mask = geo.ringSize - 1;
      this.#cellBase = geo.cellBase;
      const override = (options as AttachRequest).spinCount;
      this.#spin = override === undefined ? spin : override;
      this.#spinBudget = this.#spin;
      this.handle = Object.freeze({ backend: 'portable', buffer: attach });
      return;
    }
    const o = checkOptions('options', options);
    const concurrencyOpt = o.concurrency === undefined ? 0 : checkInteger('options.concurrency', o.concurrency, 0, MAX_THREADS_LIMIT);
    const capacity = o.capacity === undefined ? DEFAULT_CAPACITY : checkInteger('options.capacity', o.capacity, 1, MAX_CAPACITY);
    const maxThreads =
      o.maxThreads === undefined ? DEFAULT_MAX_THREADS : checkInteger('options.maxThreads', o.maxThreads, 1, MAX_THREADS_LIMIT);
    const spin = o.spinCount === undefined ? DEFAULT_SPIN : checkInteger('options.spinCount', o.spinCount, 0, 1e9);
    if (o.backend !== undefined && o.backend !== 'portable') {
      // Another backend: the constructor returns its port (same interface) instead of this one.
      const other = otherBackend(o.backend, o as CompletionPortOptions);
      if (other !== undefined) return other;
    }
    const concurrency = concurrencyOpt === 0 ? availableParallelism() : concurrencyOpt;

    const geo = geometry(capacity, maxThreads);
    const buffer = new SharedArrayBuffer(geo.byteLength);
    const i32 = new Int32Array(buffer);
    i32[H_MAGIC] = MAGIC;
    i32[H_VERSION] = LAYOUT_VERSION;
    i32[H_CAPACITY] = capacity;
    i32[H_RING_SIZE] = geo.ringSize;
    i32[H_MAX_THREADS] = maxThreads;
    i32[H_CONCURRENCY] = concurrency;
    i32[H_SPIN] = spin;
    i32[H_BYTE_LENGTH] = geo.byteLength;
    // Every cell starts free for the first lap: C_SEQ = its position (layout.ts).
    for (let c = 0; c < geo.ringSize; c++) i32[geo.cellBase + c * CELL_WORDS] = c;
    this.#geo = geo;
    this.#capacity = capacity;
    this.#ringSize = geo.ringSize;
    this.#mask = geo.ringSize - 1;
    this.#cellBase = geo.cellBase;
    this.#i32 = i32;
    this.#f64 = new Float64Array(buffer);
    this.#concurrency = concurrency;
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

  get concurrency(): number {
    return this.#concurrency;
  }

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

    // Always through the RING, never straight into a mailbox: an older packet
    // may still sit in the ring, and FIFO (I1) puts this one after it.
    const i32 = this.#i32;
    let pos = Atomics.load(i32, S_ENQ);
    for (;;) {
      if (pos >= CLOSED_BIT) return this.#postClosed();
      const cell = this.#cellBase + (pos & this.#mask) * CELL_WORDS;
      const dif = ((Atomics.load(i32, cell) - pos) << 2) >> 2;
      if (dif === 0) {
        if (this.#capacity !== this.#ringSize && !this.#roomFor(pos)) return false;
        const seen = Atomics.compareExchange(i32, S_ENQ, pos, (pos + 1) & POS_MASK);
        if (seen === pos) {
          // I8: from the claim to the publish, no call, no allocation, no loop.
          const f = (cell + C_PAYLOAD) >> 1;
          const f64 = this.#f64;
          f64[f] = bytes;
          f64[f + 1] = completionKey;
          f64[f + 2] = overlapped;
          Atomics.store(i32, cell, (pos + 1) & POS_MASK);
          break;
        }
        pos = seen; // another poster claimed pos first
      } else if (dif < 0) {
        return false; // the cell still holds the packet a lap behind: the ring is full
      } else {
        pos = Atomics.load(i32, S_ENQ); // our view of S_ENQ was stale
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
   * says so: its C_SEQ became (its position + ringSize) when it was taken.
   */
  #roomFor(pos: number): boolean {
    const before = (pos - this.#capacity) & POS_MASK;
    const seq = Atomics.load(this.#i32, this.#cellBase + (before & this.#mask) * CELL_WORDS);
    return ((seq - ((before + this.#ringSize) & POS_MASK)) << 2) >> 2 >= 0;
  }

  /** post() saw S_ENQ's CLOSED_BIT: make "closed" one instant for takers too (I7), then throw. */
  #postClosed(): never {
    Atomics.or(this.#i32, S_DEQ, CLOSED_BIT);
    throw new PortClosedError('post() on a closed completion port');
  }

  /** A waiter may run and a packet is queued: release it under the lock (I2). */
  #kick(): void {
    this.#lock();
    const wake = this.#dispatch();
    this.#unlock();
    this.#notifyAll(wake);
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
    if (this.#mayTakeWithoutLock()) {
      const packet = this.#dequeue();
      if (packet !== null) return packet;
    }
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
    if (this.#mayTakeWithoutLock()) first = this.#dequeue();
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
    let w: number;
    try {
      timeout = timeoutMs === undefined ? Infinity : checkTimeout('timeoutMs', timeoutMs);
      if (options !== undefined) {
        const o = checkOptions('options', options);
        if (o.spinCount !== undefined) spin = checkInteger('options.spinCount', o.spinCount, 0, 1e9);
      }
      if (this.#mayTakeWithoutLock()) {
        const packet = this.#dequeue();
        if (packet !== null) return Promise.resolve(packet);
      }
      // By default no spin: it would stall the event loop this method exists
      // to keep free. A caller that knows a packet is imminent (a pool with
      // tasks in flight) may ask for a short one.
      w = this.#begin(timeout === 0 ? NO_WAIT : spin > 0 ? WAITING : SLEEPING);
      if (w === TAKE) return Promise.resolve(this.#scratchPacket(0));
      if (w === NONE) return Promise.resolve(null);
    } catch (error) {
      return Promise.reject(error);
    }
    if (spin > 0) {
      const word = this.#slotWord(w, W_STATE);
      let state = this.#spinOn(word, spin);
      if (state === WAITING) state = Atomics.compareExchange(this.#i32, word, WAITING, SLEEPING);
      if (state !== WAITING) {
        try {
          return Promise.resolve(this.#finish(w, state));
        } catch (error) {
          return Promise.reject(error);
        }
      }
    }
    return this.#waitAsync(w, timeout);
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
    let wake: number[] | null = null;
    if (held > 0) {
      i32[owner] = 0;
      Atomics.sub(i32, S_RUNNING, held);
      wake = this.#dispatch();
    }
    this.#unlock();
    this.#notifyAll(wake);
    const reacquire = (): void => {
      if (held === 0 || this.#slot < 0) return;
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
   * silently). Idempotent: a second call returns [].
   */
  close(): CompletionPacket[] {
    const i32 = this.#i32;
    this.#lock();
    if (i32[S_CLOSED] !== 0) {
      this.#unlock();
      return [];
    }
    Atomics.store(i32, S_CLOSED, 1);
    // I7: posters first, then takers; from here on no position is claimed.
    const end = Atomics.or(i32, S_ENQ, CLOSED_BIT) & POS_MASK;
    const start = Atomics.or(i32, S_DEQ, CLOSED_BIT) & POS_MASK;
    const waiting = this.#checkIndex('S_WAITING', i32[S_WAITING]!, this.#geo.maxThreads + 1);
    const wake: number[] = [];
    for (let i = 0; i < waiting; i++) {
      const slot = this.#checkIndex('waiter stack entry', i32[STACK_BASE + i]!, this.#geo.maxThreads);
      if (Atomics.exchange(i32, this.#slotWord(slot, W_STATE), CLOSED) === SLEEPING) wake.push(slot);
    }
    Atomics.store(i32, S_WAITING, 0);
    const count = this.#drainLocked(start, end);
    this.#unlock();
    this.#notifyAll(wake);
    const packets: CompletionPacket[] = new Array(count);
    for (let i = 0; i < count; i++) packets[i] = this.#scratchPacket(i * PACKET_F64);
    return packets;
  }

  /**
   * Lock held, port closed (no position is claimed any more). Copies FRONT,
   * then the RING positions [start, end) into scratch, in order, and empties
   * both. A poster that claimed a position before the close publishes it
   * within nanoseconds (I8); close waits for that.
   */
  #drainLocked(start: number, end: number): number {
    const i32 = this.#i32;
    const f64 = this.#f64;
    const front = this.#checkIndex('S_FRONT_COUNT', i32[S_FRONT_COUNT]!, this.#geo.maxThreads + 1);
    const inRing = (end - start) & POS_MASK;
    if (inRing > this.#capacity) this.#fail(new PortCorruptedError(`${inRing} ring positions queued at close`));
    this.#ensureScratch(front + inRing);
    const scratch = this.#scratch;
    let s = 0;
    for (let n = 0; n < front; n++, s += PACKET_F64) this.#takeFront(s);
    for (let pos = start; pos !== end; pos = (pos + 1) & POS_MASK) {
      const cell = this.#cellBase + (pos & this.#mask) * CELL_WORDS;
      const published = (pos + 1) & POS_MASK;
      let deadline = 0; // per position: each claim gets the full time
      for (let spin = 0; Atomics.load(i32, cell) !== published; spin++) {
        if (spin < PUBLISH_SPIN) continue;
        // Claimed before the close and not yet published: wait for its poster,
        // unless it stays unpublished so long that its poster must be dead.
        if (deadline === 0) deadline = performance.now() + ABANDONED_CLAIM_MS;
        if (performance.now() > deadline) break;
        this.#pause();
      }
      if (Atomics.load(i32, cell) !== published) continue; // a dead poster's position: no packet
      const f = (cell + C_PAYLOAD) >> 1;
      if (f64[f] === VOID) continue;
      scratch[s] = f64[f]!;
      scratch[s + 1] = f64[f + 1]!;
      scratch[s + 2] = f64[f + 2]!;
      s += PACKET_F64;
      Atomics.store(i32, cell, (pos + this.#ringSize) & POS_MASK);
    }
    Atomics.store(i32, S_DEQ, end | CLOSED_BIT);
    Atomics.store(i32, S_VOID, 0);
    return s / PACKET_F64;
  }

  /** Sleeps 50 µs (close() waiting for a preempted poster to publish). */
  #pause(): void {
    const cell = (this.#sleepCell ??= new Int32Array(new SharedArrayBuffer(4)));
    Atomics.wait(cell, 0, 0, 0.05);
  }

  get closed(): boolean {
    return Atomics.load(this.#i32, S_CLOSED) !== 0;
  }

  // ───────────────────────── thread slots ─────────────────────────

  /**
   * Gives back everything a thread that has ended still holds: its running
   * slots, its places on the waiter stack, and any packet handed to it that
   * it never read (requeued at the front, so it is not lost and keeps its
   * place). Call it from the owner when a worker exits, with the worker's
   * `threadId` captured when it was created (Node sets `worker.threadId` to
   * -1 once the worker has exited). Returns what was released.
   */
  releaseThread(deadThreadId: number): ReleasedThread {
    checkInteger('threadId', deadThreadId, 0, 0x7fffffff);
    return this.#release((slot) => this.#i32[this.#slotWord(slot, W_THREAD_ID)] === deadThreadId, deadThreadId + 1);
  }

  /** Gives back this thread's slots; the instance may attach again on its next get. */
  detach(): void {
    const mine = this.#slot;
    if (mine < 0) return;
    this.#release((slot) => this.#i32[this.#slotWord(slot, W_OWNER)] === mine, 0);
    this.#slot = -1;
    this.#runningWord = -1;
    this.#idle.length = 0;
  }

  // ───────────────────────────── stats ─────────────────────────────

  stats(): PortStats {
    const i32 = this.#i32;
    this.#lock();
    const stats: PortStats = {
      queued: this.#queuedLocked(),
      running: i32[S_RUNNING]!,
      waiting: i32[S_WAITING]!,
      threads: i32[S_THREADS]!,
      concurrency: this.#concurrency,
      capacity: this.#geo.capacity,
      closed: i32[S_CLOSED] !== 0,
      backend: 'portable',
    };
    this.#unlock();
    return stats;
  }

  // ─────────────────────────── internals ───────────────────────────

  #slotWord(slot: number, field: number): number {
    return this.#geo.slotBase + slot * SLOT_WORDS + field;
  }

  /**
   * Every throw while the lock is held goes through here: it lets go of the
   * lock first, so a failing call can never leave the other threads hanging.
   */
  #fail(error: Error): never {
    this.#unlock();
    throw error;
  }

  /** Lock held. Bounds-checks an index read from shared memory. */
  #checkIndex(what: string, value: number, limit: number): number {
    if (value >>> 0 !== value || value >= limit) this.#fail(new PortCorruptedError(`${what} = ${value}, limit ${limit}`));
    return value;
  }

  #lock(): void {
    if (Atomics.compareExchange(this.#i32, S_LOCK, 0, MY_LOCK) !== 0) this.#lockSlow();
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
        Atomics.wait(i32, S_LOCK, seen | LOCK_CONTENDED);
      }
    }
  }

  #unlock(): void {
    const i32 = this.#i32;
    if ((Atomics.exchange(i32, S_LOCK, 0) & LOCK_CONTENDED) !== 0) Atomics.notify(i32, S_LOCK, 1);
  }

  #ensureRegistered(): number {
    if (this.#slot >= 0) return this.#slot;
    this.#lock();
    const slot = this.#allocSlot(THREAD, -1);
    this.#i32[S_THREADS] = this.#i32[S_THREADS]! + 1;
    this.#unlock();
    this.#slot = slot;
    this.#runningWord = this.#slotWord(slot, W_RUNNING);
    this.#idle.push(slot);
    return slot;
  }

  /** Lock held. Finds a FREE slot and claims it; throws if the table is full. */
  #allocSlot(kind: number, owner: number): number {
    const i32 = this.#i32;
    for (let slot = 0; slot < this.#geo.maxThreads; slot++) {
      const k = this.#slotWord(slot, W_KIND);
      if (i32[k] === FREE) {
        i32[k] = kind;
        Atomics.store(i32, this.#slotWord(slot, W_STATE), IDLE);
        i32[this.#slotWord(slot, W_OWNER)] = owner < 0 ? slot : owner;
        i32[this.#slotWord(slot, W_THREAD_ID)] = threadId;
        i32[this.#slotWord(slot, W_RUNNING)] = 0;
        return slot;
      }
    }
    return this.#fail(
      new RangeError(
      `the completion port has no free thread slot: ${this.#geo.maxThreads} threads or concurrent getAsync calls ` +
        'are attached (raise options.maxThreads, or call releaseThread()/detach() for threads that ended)',
      ),
    );
  }

  /**
   * May this thread take the next packet without the lock? Only if it holds
   * a running slot (it gives it back and takes it again at once, so
   * S_RUNNING does not change, I2), it may run (S_RUNNING ≤ concurrency:
   * after giving back it is below the cap), and no requeued packet waits in
   * FRONT (older than anything in the RING, I1).
   */
  #mayTakeWithoutLock(): boolean {
    const i32 = this.#i32;
    return (
      this.#runningWord >= 0 &&
      Atomics.load(i32, this.#runningWord) > 0 &&
      Atomics.load(i32, S_FRONT_COUNT) === 0 &&
      Atomics.load(i32, S_RUNNING) <= this.#concurrency
    );
  }

  /**
   * Takes the packet at S_DEQ off the RING (layout.ts), without the lock.
   * Returns null when none is published yet, or the port is closed.
   */
  #dequeue(): CompletionPacket | null {
    return this.#dequeueInto(0) ? this.#scratchPacket(0) : null;
  }

  /**
   * The one claim loop of every taker: takes the packet at S_DEQ off the
   * RING into scratch[s..s+2], skipping VOID positions. False when none is
   * published yet, or the port is closed. With or without the lock.
   */
  #dequeueInto(s: number): boolean {
    const i32 = this.#i32;
    let pos = Atomics.load(i32, S_DEQ);
    for (;;) {
      if (pos >= CLOSED_BIT) return false;
      const cell = this.#cellBase + (pos & this.#mask) * CELL_WORDS;
      const dif = ((Atomics.load(i32, cell) - pos - 1) << 2) >> 2;
      if (dif === 0) {
        const seen = Atomics.compareExchange(i32, S_DEQ, pos, (pos + 1) & POS_MASK);
        if (seen === pos) {
          // I8: from the claim to the free, no call, no allocation, no loop.
          const f = (cell + C_PAYLOAD) >> 1;
          const f64 = this.#f64;
          const scratch = this.#scratch;
          scratch[s] = f64[f]!;
          scratch[s + 1] = f64[f + 1]!;
          scratch[s + 2] = f64[f + 2]!;
          Atomics.store(i32, cell, (pos + this.#ringSize) & POS_MASK);
          if (scratch[s] !== VOID) return true;
          Atomics.sub(i32, S_VOID, 1); // a dead poster's position: nothing to deliver, take the next
          pos = Atomics.load(i32, S_DEQ);
          continue;
        }
        pos = seen;
      } else if (dif < 0) {
        return false;
      } else {
        pos = Atomics.load(i32, S_DEQ);
      }
    }
  }

  /** Lock held. The oldest queued packet (FRONT, then RING) into scratch[s..s+2], or false if none. */
  #takeLocked(s: number): boolean {
    if (this.#i32[S_FRONT_COUNT] !== 0) {
      this.#takeFront(s);
      return true;
    }
    return this.#dequeueInto(s);
  }

  /** Lock held, S_FRONT_COUNT > 0. Takes FRONT's oldest packet into scratch[s..s+2]. */
  #takeFront(s: number): void {
    const i32 = this.#i32;
    const maxThreads = this.#geo.maxThreads;
    const head = this.#checkIndex('S_FRONT_HEAD', i32[S_FRONT_HEAD]!, maxThreads);
    const f = this.#geo.frontBase + head * PACKET_F64;
    const f64 = this.#f64;
    const scratch = this.#scratch;
    scratch[s] = f64[f]!;
    scratch[s + 1] = f64[f + 1]!;
    scratch[s + 2] = f64[f + 2]!;
    i32[S_FRONT_HEAD] = head + 1 === maxThreads ? 0 : head + 1;
    Atomics.sub(i32, S_FRONT_COUNT, 1);
  }

  /** Lock held. Puts a packet back in front of every queued one (releaseThread). */
  #requeueFront(bytesTransferred: number, completionKey: number, overlapped: number): void {
    const i32 = this.#i32;
    const maxThreads = this.#geo.maxThreads;
    const count = this.#checkIndex('S_FRONT_COUNT', i32[S_FRONT_COUNT]!, maxThreads);
    let head = this.#checkIndex('S_FRONT_HEAD', i32[S_FRONT_HEAD]!, maxThreads) - 1;
    if (head < 0) head += maxThreads;
    const f = this.#geo.frontBase + head * PACKET_F64;
    const f64 = this.#f64;
    f64[f] = bytesTransferred;
    f64[f + 1] = completionKey;
    f64[f + 2] = overlapped;
    i32[S_FRONT_HEAD] = head;
    Atomics.store(i32, S_FRONT_COUNT, count + 1);
  }

  /** Lock held. Packets queued: FRONT plus the RING's claimed positions. */
  #queuedLocked(): number {
    const i32 = this.#i32;
    // S_DEQ first: S_ENQ only grows, so the S_ENQ read after it is never behind it.
    const deq = Atomics.load(i32, S_DEQ) & POS_MASK;
    const positions = ((Atomics.load(i32, S_ENQ) & POS_MASK) - deq) & POS_MASK;
    return i32[S_FRONT_COUNT]! + Math.max(0, positions - Atomics.load(i32, S_VOID));
  }

  #scratchPacket(s: number): CompletionPacket {
    const scratch = this.#scratch;
    return { bytesTransferred: num(scratch[s]!), completionKey: num(scratch[s + 1]!), overlapped: num(scratch[s + 2]!) };
  }

  #ensureScratch(packets: number): void {
    const need = packets * PACKET_F64;
    if (this.#scratch.length < need) this.#scratch = new Float64Array(Math.max(need, this.#scratch.length * 2));
  }

  /**
   * The slow start of every get: attach if needed, lock, give back this
   * thread's running slot, throw if closed; then take the oldest packet if
   * the cap allows (TAKE: it is in scratch[0..2], and the caller counts as
   * running), else return NONE (waiterState NO_WAIT) or push a waiter in
   * waiterState and return its slot. The lock is released before return.
   */
  #begin(waiterState: number): number {
    const slot = this.#slot >= 0 ? this.#slot : this.#ensureRegistered();
    const i32 = this.#i32;
    this.#lock();
    const owner = this.#runningWord;
    const held = i32[owner]!;
    if (held > 0) {
      // Give back one running slot: this thread is done with the packet it had.
      i32[owner] = held - 1;
      Atomics.sub(i32, S_RUNNING, 1);
    }
    if (i32[S_CLOSED] !== 0) {
      this.#unlock();
      throw new PortClosedError();
    }
    // A thread that comes back to get while packets wait takes one at once,
    // without sleeping — even if older waiters exist (they are over the cap).
    if (i32[S_RUNNING]! < this.#concurrency && this.#takeLocked(0)) {
      i32[owner] = i32[owner]! + 1;
      Atomics.add(i32, S_RUNNING, 1);
      this.#unlock();
      return TAKE;
    }
    if (waiterState === NO_WAIT) {
      this.#unlock();
      return NONE;
    }
    const w = this.#pushWaiter(waiterState);
    // I2: a packet published after our look above and before the push saw no
    // waiter; the dispatch catches it (and hands it to us: we are the newest).
    const wake = this.#dispatch();
    this.#unlock();
    this.#notifyAll(wake);
    return w;
  }

  /** Lock held. Pushes one of this instance's idle slots on the waiter stack. */
  #pushWaiter(state: number): number {
    const i32 = this.#i32;
    let w = this.#idle.pop();
    if (w === undefined) {
      w = this.#allocSlot(EXTRA, this.#slot);
    }
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
   * are queued and the cap allows. Returns the slots that were asleep and
   * must be notified after unlock, or null.
   */
  #dispatch(): number[] | null {
    const i32 = this.#i32;
    let wake: number[] | null = null;
    while (i32[S_WAITING]! > 0 && i32[S_RUNNING]! < this.#concurrency && this.#takeLocked(0)) {
      const slot = this.#popWaiter();
      const scratch = this.#scratch;
      if (this.#handTo(slot, scratch[0]!, scratch[1]!, scratch[2]!) === SLEEPING) (wake ??= []).push(slot);
    }
    return wake;
  }

  #notifyAll(wake: number[] | null): void {
    if (wake === null) return;
    for (const slot of wake) Atomics.notify(this.#i32, this.#slotWord(slot, W_STATE), 1);
  }

  /**
   * getMany after its first packet: this thread holds a running slot, so it
   * takes more without a wait — from the RING without the lock, or, when
   * requeued packets wait in FRONT (rare), under the lock. Closed means
   * nothing more to take (I7).
   */
  #takeMore(out: CompletionPacket[], max: number): void {
    if (Atomics.load(this.#i32, S_FRONT_COUNT) !== 0) {
      const want = Math.min(max - out.length, this.#capacity + this.#geo.maxThreads);
      this.#ensureScratch(want);
      this.#lock();
      let count = 0;
      while (count < want && this.#takeLocked(count * PACKET_F64)) count++;
      this.#unlock();
      // Objects are made after unlock: a thread that dies of OOM never dies holding the lock.
      for (let i = 0; i < count; i++) out.push(this.#scratchPacket(i * PACKET_F64));
      return;
    }
    while (out.length < max) {
      const packet = this.#dequeue();
      if (packet === null) return;
      out.push(packet);
    }
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
    if (this.#asyncWaits++ === 0) {
      if (this.#keepAlive === undefined) this.#keepAlive = setInterval(keepAlive, 0x40000000);
      else this.#keepAlive.ref();
    }
    let state = Atomics.load(i32, word);
    try {
      while (state === SLEEPING) {
        const remaining = deadline === Infinity ? undefined : deadline - performance.now();
        if (remaining !== undefined && remaining <= 0) break;
        const result = Atomics.waitAsync(i32, word, SLEEPING, remaining);
        if (result.async) await result.value;
        // A late notify meant for an earlier wait on this slot can wake us early: loop.
        state = Atomics.load(i32, word);
      }
    } finally {
      if (--this.#asyncWaits === 0) this.#keepAlive!.unref();
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
      state = Atomics.load(i32, word);
      if (state === WAITING || state === SLEEPING) {
        this.#removeWaiter(w);
        Atomics.store(i32, word, IDLE);
        this.#unlock();
        this.#idle.push(w);
        return null;
      }
      this.#unlock();
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
    if (i < 0) this.#fail(new PortCorruptedError(`waiter slot ${w} is not on the waiter stack`));
    for (; i < waiting - 1; i++) i32[STACK_BASE + i] = i32[STACK_BASE + i + 1]!;
    Atomics.store(i32, S_WAITING, waiting - 1);
  }

  /**
   * releaseThread's lock. Returns true if it inherited the lock from a dead
   * holder — the thread being released, or another that held it without a
   * pause for ABANDONED_LOCK_MS (a live holder keeps it for a microsecond;
   * this one must have died too, and its own exit may not have been reported
   * yet: waiting for it would hang the caller, say a pool handling the exit
   * of two workers terminated at once).
   */
  #lockOrInherit(deadTag: number): boolean {
    const i32 = this.#i32;
    let last = 0;
    let since = 0;
    for (let spin = 0; ; spin++) {
      const held = Atomics.load(i32, S_LOCK);
      if (held === 0) {
        last = 0;
        if (Atomics.compareExchange(i32, S_LOCK, 0, MY_LOCK) === 0) return false;
        continue;
      }
      if ((held & LOCK_CONTENDED) === 0) {
        // Marked, the word changes if its holder lets go and takes it again
        // between our looks (a fresh take is unmarked), so a busy live holder
        // is never mistaken for a dead one; and its unlock notifies.
        Atomics.compareExchange(i32, S_LOCK, held, held | LOCK_CONTENDED);
        continue;
      }
      if (held !== last) {
        // A new holder, or the same one again after a release: the clock restarts.
        last = held;
        since = performance.now();
      }
      const tag = held >> 1;
      const inherit = tag === deadTag || (spin >= LOCK_SPIN && performance.now() - since > ABANDONED_LOCK_MS);
      // We inherit its sleepers too, so the contended mark stays.
      if (inherit && Atomics.compareExchange(i32, S_LOCK, held, MY_LOCK | (held & LOCK_CONTENDED)) === held) return true;
      if (spin >= LOCK_SPIN) this.#pause();
    }
  }

  /**
   * Lock inherited from a thread that died holding it (worker.terminate()
   * stops a thread at any call). It may have stopped between two writes that
   * belong together; rebuild the words that summarise the slots from the
   * slots themselves:
   *  - the waiter stack (I3): keep the entries that are waiting slots, once
   *    each, in order; a waiting slot missing from it (a push or pop cut in
   *    half) goes back at the bottom, as the oldest waiter;
   *  - S_RUNNING = the sum of W_RUNNING (I5), S_THREADS = the THREAD slots.
   * A packet the dead thread had taken off the ring and not yet handed over
   * died with it, as it would have after any get.
   */
  #repairAfterDeath(): void {
    const i32 = this.#i32;
    const maxThreads = this.#geo.maxThreads;
    const isWaiting = (slot: number): boolean => {
      const state = Atomics.load(i32, this.#slotWord(slot, W_STATE));
      return i32[this.#slotWord(slot, W_KIND)] !== FREE && (state === WAITING || state === SLEEPING);
    };
    const depth = Math.min(Math.max(i32[S_WAITING]!, 0), maxThreads);
    const kept: number[] = [];
    const seen = new Set<number>();
    for (let i = 0; i < depth; i++) {
      const slot = i32[STACK_BASE + i]!;
      if (slot >>> 0 === slot && slot < maxThreads && !seen.has(slot) && isWaiting(slot)) {
        kept.push(slot);
        seen.add(slot);
      }
    }
    const stack: number[] = [];
    let running = 0;
    let threads = 0;
    for (let slot = 0; slot < maxThreads; slot++) {
      if (!seen.has(slot) && isWaiting(slot)) stack.push(slot);
      if (i32[this.#slotWord(slot, W_KIND)] === THREAD) {
        running += i32[this.#slotWord(slot, W_RUNNING)]!;
        threads++;
      }
    }
    for (const slot of kept) stack.push(slot);
    for (let i = 0; i < stack.length; i++) i32[STACK_BASE + i] = stack[i]!;
    Atomics.store(i32, S_WAITING, stack.length);
    Atomics.store(i32, S_RUNNING, running);
    i32[S_THREADS] = threads;
  }

  /**
   * Lock held, after a thread died. Finds ring cells whose claim was never
   * finished — a poster's (claimed, not published) or a taker's (claimed,
   * not freed) — waits up to ABANDONED_CLAIM_MS for live threads to finish
   * theirs, and finishes the rest for the dead:
   *  - a poster's position is published as VOID (takers skip it, S_VOID
   *    counts it so stats() stays exact): its post() never returned;
   *  - a taker's packet never reached its caller: it is requeued in FRONT
   *    (or handed to the caller in `abandoned` if the port is closed), and
   *    the cell is freed.
   * Returns the number of packets requeued. Costs one pass over the ring,
   * only when releaseThread() is called.
   */
  #repairRing(abandoned: CompletionPacket[]): number {
    const i32 = this.#i32;
    const f64 = this.#f64;
    const size = this.#ringSize;
    // S_DEQ first: S_ENQ only grows, so the S_ENQ read after it is never behind it
    // (read the other way round, a post and a get in between would make deq pass enq).
    const deq = Atomics.load(i32, S_DEQ) & POS_MASK;
    const enq = Atomics.load(i32, S_ENQ) & POS_MASK;
    // Posts and gets by live threads between the two reads only add positions
    // that finish on their own; every claim of a dead thread is inside the range.
    // A cell's position now is the one in [deq − size, enq) that maps to it.
    // Before deq it was taken, and is unfinished until freed (C_SEQ still
    // pos + 1); from deq on it was posted, and is unfinished until published
    // (C_SEQ still pos).
    const wasTaken = (pos: number): boolean => ((pos - deq) & POS_MASK) >= ((enq - deq) & POS_MASK);
    const unfinished = (pos: number): boolean => {
      const seq = Atomics.load(i32, this.#cellBase + (pos & this.#mask) * CELL_WORDS);
      return seq === (wasTaken(pos) ? (pos + 1) & POS_MASK : pos);
    };
    let stuck: number[] = [];
    for (let pos = (deq - size) & POS_MASK; pos !== enq; pos = (pos + 1) & POS_MASK) if (unfinished(pos)) stuck.push(pos);
    const deadline = performance.now() + ABANDONED_CLAIM_MS;
    while (stuck.length > 0 && performance.now() < deadline) {
      this.#pause();
      stuck = stuck.filter(unfinished);
    }
    stuck = stuck.filter(unfinished); // a last look: our own pauses count against the deadline too
    let requeued = 0;
    for (const pos of stuck) {
      const cell = this.#cellBase + (pos & this.#mask) * CELL_WORDS;
      const f = (cell + C_PAYLOAD) >> 1;
      if (!wasTaken(pos)) {
        f64[f] = VOID;
        Atomics.add(i32, S_VOID, 1);
        Atomics.store(i32, cell, (pos + 1) & POS_MASK);
      } else {
        if (f64[f] !== VOID) {
          if (i32[S_CLOSED] !== 0) {
            abandoned.push({ bytesTransferred: num(f64[f]!), completionKey: num(f64[f + 1]!), overlapped: num(f64[f + 2]!) });
          } else {
            this.#requeueFront(f64[f]!, f64[f + 1]!, f64[f + 2]!);
            requeued++;
          }
        } else {
          Atomics.sub(i32, S_VOID, 1);
        }
        Atomics.store(i32, cell, (pos + size) & POS_MASK);
      }
    }
    return requeued;
  }

  /**
   * Frees every slot that `match` selects. If the lock is held by the dead
   * thread itself (it ended inside a port call), takes the lock over.
   */
  #release(match: (slot: number) => boolean, deadTag: number): ReleasedThread {
    const i32 = this.#i32;
    if (deadTag === 0) this.#lock();
    else if (this.#lockOrInherit(deadTag)) this.#repairAfterDeath();
    let running = 0;
    let waiters = 0;
    let requeued = 0;
    const abandoned: CompletionPacket[] = [];
    for (let slot = 0; slot < this.#geo.maxThreads; slot++) {
        const kindWord = this.#slotWord(slot, W_KIND);
        if (i32[kindWord] === FREE || !match(slot)) continue;
        const stateWord = this.#slotWord(slot, W_STATE);
        const state = Atomics.load(i32, stateWord);
        if (state === WAITING || state === SLEEPING) {
          this.#removeWaiter(slot);
          waiters++;
        } else if (state === HANDED) {
          const m = (this.#geo.slotBase + slot * SLOT_WORDS + W_MAILBOX) >> 1;
          const f64 = this.#f64;
          if (i32[S_CLOSED] !== 0) {
            // A closed port queues nothing (I7): give the packet to the caller instead.
            abandoned.push({ bytesTransferred: num(f64[m]!), completionKey: num(f64[m + 1]!), overlapped: num(f64[m + 2]!) });
          } else {
            // Handed but never read: put it back in front, where it came from.
            this.#requeueFront(f64[m]!, f64[m + 1]!, f64[m + 2]!);
            requeued++;
          }
        }
        if (i32[kindWord] === THREAD) {
          const held = i32[this.#slotWord(slot, W_RUNNING)]!;
          Atomics.sub(i32, S_RUNNING, held);
          running += held;
          i32[S_THREADS] = i32[S_THREADS]! - 1;
        }
        Atomics.store(i32, stateWord, IDLE);
        i32[this.#slotWord(slot, W_RUNNING)] = 0;
        i32[kindWord] = FREE;
      }
    // A thread that died between claiming a ring cell and finishing with it
    // left the cell claimed for good (I8): finish it for the dead.
    if (deadTag !== 0) requeued += this.#repairRing(abandoned);
    const wake = this.#dispatch();
    this.#unlock();
    this.#notifyAll(wake);
    if (deadTag !== 0) {
      // The dead thread may have died between an unlock and its notify: wake
      // every lock sleeper and every slot that was handed a packet or closed.
      // Each wait re-checks its word, so a spare wake-up costs nothing.
      Atomics.notify(i32, S_LOCK);
      for (let slot = 0; slot < this.#geo.maxThreads; slot++) {
        const state = Atomics.load(i32, this.#slotWord(slot, W_STATE));
        if (state === HANDED || state === CLOSED) Atomics.notify(i32, this.#slotWord(slot, W_STATE));
      }
    }
    return { running, waiters, requeued, abandoned };
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
  if (i32[H_RING_SIZE] !== geo.ringSize || i32[H_BYTE_LENGTH] !== geo.byteLength || buffer.byteLength !== geo.byteLength) {
    bad('its header does not match its size');
  }
  return { geo, spin };
}
