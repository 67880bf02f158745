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
  CLOSED,
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
  S_CLOSED,
  S_HEAD,
  S_LOCK,
  S_LOCK_OWNER,
  S_QUEUED,
  S_RUNNING,
  S_THREADS,
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

/** Tag written into S_LOCK_OWNER by the lock holder: never 0, so 0 means "no known holder". */
const MY_TAG = threadId + 1;

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

/** #begin's answer when a packet is ready to take (slot indices are ≥ 0). */
const TAKE = -1;

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
  /** The most this thread spins (settable: spinCount); its current budget is #spinBudget. */
  #spin!: number;
  #spinBudget!: number;
  /** This instance's THREAD slot, or -1 until the first call that waits or runs. */
  #slot = -1;
  /** Slots owned by this instance and not in a wait right now (the THREAD slot first). */
  readonly #idle: number[] = [];
  /** Where #takeAndUnlock copies packets while it holds the lock. */
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
    this.#geo = geo;
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
    if (typeof bytesTransferred !== 'number' || bytesTransferred >>> 0 !== bytesTransferred) {
      checkInteger('bytesTransferred', bytesTransferred, 0, 0xffffffff);
    }
    if (!Number.isFinite(completionKey)) checkFinite('completionKey', completionKey);
    if (!Number.isFinite(overlapped)) checkFinite('overlapped', overlapped);

    const i32 = this.#i32;
    this.#lock();
    if (i32[S_CLOSED] !== 0) {
      this.#unlock();
      throw new PortClosedError('post() on a closed completion port');
    }
    // A waiter exists only when the queue is empty or the cap is reached (I2),
    // so handing to it directly keeps FIFO: nothing queued is older.
    if (i32[S_WAITING] !== 0 && i32[S_RUNNING]! < this.#concurrency) {
      const slot = this.#popWaiter();
      const state = this.#handTo(slot, bytesTransferred, completionKey, overlapped);
      this.#unlock();
      // Only a sleeper needs the ~90 ns notify; a spinning waiter sees HANDED on its own.
      if (state === SLEEPING) Atomics.notify(i32, this.#slotWord(slot, W_STATE), 1);
      return true;
    }
    const queued = i32[S_QUEUED]!;
    if (queued >= this.#geo.capacity) {
      this.#unlock();
      return false;
    }
    const head = this.#head();
    let tail = head + queued;
    if (tail >= this.#geo.ringSize) tail -= this.#geo.ringSize;
    const f = this.#geo.ringBase + tail * PACKET_F64;
    const f64 = this.#f64;
    f64[f] = bytesTransferred;
    f64[f + 1] = completionKey;
    f64[f + 2] = overlapped;
    i32[S_QUEUED] = queued + 1;
    this.#unlock();
    return true;
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
    const slot = this.#begin();
    if (slot === TAKE) return this.#takeOneAndUnlock();
    if (timeout === 0) {
      this.#unlock();
      return null;
    }
    const w = this.#pushWaiter(WAITING);
    this.#unlock();
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
    const slot = this.#begin();
    if (slot === TAKE) return this.#takeAndUnlock(max);
    if (timeout === 0) {
      this.#unlock();
      return [];
    }
    const w = this.#pushWaiter(WAITING);
    this.#unlock();
    const state = this.#waitSync(w, timeout);
    const first = this.#finish(w, state);
    if (first === null) return [];
    const out = [first];
    if (max > 1 && Atomics.load(this.#i32, S_QUEUED) > 0) this.#takeMore(out, max);
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
      const slot = this.#begin();
      if (slot === TAKE) return Promise.resolve(this.#takeOneAndUnlock());
      if (timeout === 0) {
        this.#unlock();
        return Promise.resolve(null);
      }
      // By default no spin: it would stall the event loop this method exists
      // to keep free. A caller that knows a packet is imminent (a pool with
      // tasks in flight) may ask for a short one.
      w = this.#pushWaiter(spin > 0 ? WAITING : SLEEPING);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#unlock();
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
      i32[S_RUNNING] = i32[S_RUNNING]! - held;
      wake = this.#dispatch();
    }
    this.#unlock();
    this.#notifyAll(wake);
    const reacquire = (): void => {
      if (held === 0 || this.#slot < 0) return;
      this.#lock();
      i32[owner] = i32[owner]! + held;
      i32[S_RUNNING] = i32[S_RUNNING]! + held;
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
    const waiting = i32[S_WAITING]!;
    this.#checkIndex('S_WAITING', waiting, this.#geo.maxThreads + 1);
    const wake: number[] = [];
    for (let i = 0; i < waiting; i++) {
      const slot = this.#checkIndex('waiter stack entry', i32[STACK_BASE + i]!, this.#geo.maxThreads);
      if (Atomics.exchange(i32, this.#slotWord(slot, W_STATE), CLOSED) === SLEEPING) wake.push(slot);
    }
    i32[S_WAITING] = 0;
    const packets = this.#takeAndUnlock(i32[S_QUEUED]!);
    this.#notifyAll(wake);
    return packets;
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
    this.#idle.length = 0;
  }

  // ───────────────────────────── stats ─────────────────────────────

  stats(): PortStats {
    const i32 = this.#i32;
    this.#lock();
    const stats: PortStats = {
      queued: i32[S_QUEUED]!,
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

  /** Lock held. */
  #head(): number {
    return this.#checkIndex('S_HEAD', this.#i32[S_HEAD]!, this.#geo.ringSize);
  }

  #lock(): void {
    if (Atomics.compareExchange(this.#i32, S_LOCK, 0, 1) !== 0) this.#lockSlow();
    this.#i32[S_LOCK_OWNER] = MY_TAG;
  }

  #lockSlow(): void {
    const i32 = this.#i32;
    for (let i = 0; i < LOCK_SPIN; i++) {
      if (Atomics.load(i32, S_LOCK) === 0 && Atomics.compareExchange(i32, S_LOCK, 0, 1) === 0) return;
    }
    // Drepper's mutex: 2 means "held, maybe with sleepers", so unlock knows to notify.
    while (Atomics.exchange(i32, S_LOCK, 2) !== 0) Atomics.wait(i32, S_LOCK, 2);
  }

  #unlock(): void {
    const i32 = this.#i32;
    i32[S_LOCK_OWNER] = 0;
    if (Atomics.exchange(i32, S_LOCK, 0) === 2) Atomics.notify(i32, S_LOCK, 1);
  }

  #ensureRegistered(): number {
    if (this.#slot >= 0) return this.#slot;
    this.#lock();
    const slot = this.#allocSlot(THREAD, -1);
    this.#i32[S_THREADS] = this.#i32[S_THREADS]! + 1;
    this.#unlock();
    this.#slot = slot;
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
   * Start of every get: attach if needed, lock, give back this thread's
   * running slot, throw if closed. Returns with the lock HELD, either TAKE —
   * a packet is queued and the caller already counts as running: take from
   * the head — or the caller's slot index, when it must wait.
   */
  #begin(): number {
    const slot = this.#slot >= 0 ? this.#slot : this.#ensureRegistered();
    const i32 = this.#i32;
    this.#lock();
    const owner = this.#slotWord(slot, W_RUNNING);
    const held = i32[owner]!;
    if (held > 0) {
      // Give back one running slot: this thread is done with the packet it had.
      i32[owner] = held - 1;
      i32[S_RUNNING] = i32[S_RUNNING]! - 1;
    }
    if (i32[S_CLOSED] !== 0) {
      this.#unlock();
      throw new PortClosedError();
    }
    if (i32[S_QUEUED]! > 0 && i32[S_RUNNING]! < this.#concurrency) {
      // A thread that comes back to get while packets wait takes one at once,
      // without sleeping — even if older waiters exist (they are over the cap).
      i32[owner] = i32[owner]! + 1;
      i32[S_RUNNING] = i32[S_RUNNING]! + 1;
      return TAKE;
    }
    return slot;
  }

  /** Lock held on entry, released here: #takeAndUnlock(1) without the array, for get(). */
  #takeOneAndUnlock(): CompletionPacket {
    const i32 = this.#i32;
    const f64 = this.#f64;
    const head = this.#head();
    const f = this.#geo.ringBase + head * PACKET_F64;
    const bytesTransferred = f64[f]!;
    const completionKey = f64[f + 1]!;
    const overlapped = f64[f + 2]!;
    i32[S_HEAD] = head + 1 === this.#geo.ringSize ? 0 : head + 1;
    i32[S_QUEUED] = i32[S_QUEUED]! - 1;
    this.#unlock();
    return { bytesTransferred: num(bytesTransferred), completionKey: num(completionKey), overlapped: num(overlapped) };
  }

  /**
   * Lock held on entry, released here. Copies up to max packets off the head
   * of the ring into scratch space, unlocks, and only then allocates the
   * packet objects: the lock is held for the copy alone, and a thread that
   * dies of OOM in an allocation never dies holding it.
   */
  #takeAndUnlock(max: number): CompletionPacket[] {
    const i32 = this.#i32;
    const f64 = this.#f64;
    const count = Math.min(max, i32[S_QUEUED]!);
    const need = count * PACKET_F64;
    let scratch = this.#scratch;
    if (scratch.length < need) scratch = this.#scratch = new Float64Array(Math.max(need, scratch.length * 2));
    let head = this.#head();
    const ringSize = this.#geo.ringSize;
    const ringBase = this.#geo.ringBase;
    for (let i = 0, s = 0; i < count; i++, s += PACKET_F64) {
      const f = ringBase + head * PACKET_F64;
      scratch[s] = f64[f]!;
      scratch[s + 1] = f64[f + 1]!;
      scratch[s + 2] = f64[f + 2]!;
      if (++head === ringSize) head = 0;
    }
    i32[S_HEAD] = head;
    i32[S_QUEUED] = i32[S_QUEUED]! - count;
    this.#unlock();
    const out: CompletionPacket[] = new Array(count);
    for (let i = 0, s = 0; i < count; i++, s += PACKET_F64) {
      out[i] = { bytesTransferred: num(scratch[s]!), completionKey: num(scratch[s + 1]!), overlapped: num(scratch[s + 2]!) };
    }
    return out;
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
    i32[S_WAITING] = waiting + 1;
    return w;
  }

  /** Lock held, S_WAITING > 0. Pops the newest waiter (LIFO). */
  #popWaiter(): number {
    const i32 = this.#i32;
    const top = this.#checkIndex('S_WAITING', i32[S_WAITING]! - 1, this.#geo.maxThreads);
    i32[S_WAITING] = top;
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
    i32[ownerRunning] = i32[ownerRunning]! + 1;
    i32[S_RUNNING] = i32[S_RUNNING]! + 1;
    return Atomics.exchange(i32, base + W_STATE, HANDED);
  }

  /**
   * Lock held. Restores I2 after S_RUNNING dropped: releases waiters (newest
   * first) while packets are queued and the cap allows. Returns the slots
   * that were asleep and must be notified after unlock, or null.
   */
  #dispatch(): number[] | null {
    const i32 = this.#i32;
    let wake: number[] | null = null;
    while (i32[S_QUEUED]! > 0 && i32[S_WAITING]! > 0 && i32[S_RUNNING]! < this.#concurrency) {
      const head = this.#head();
      const f = this.#geo.ringBase + head * PACKET_F64;
      let next = head + 1;
      if (next === this.#geo.ringSize) next = 0;
      i32[S_HEAD] = next;
      i32[S_QUEUED] = i32[S_QUEUED]! - 1;
      const slot = this.#popWaiter();
      const f64 = this.#f64;
      if (this.#handTo(slot, f64[f]!, f64[f + 1]!, f64[f + 2]!) === SLEEPING) (wake ??= []).push(slot);
    }
    return wake;
  }

  #notifyAll(wake: number[] | null): void {
    if (wake === null) return;
    for (const slot of wake) Atomics.notify(this.#i32, this.#slotWord(slot, W_STATE), 1);
  }

  /** After a handed packet: a getMany waiter takes more that queued meanwhile (it already holds its running slot). */
  #takeMore(out: CompletionPacket[], max: number): void {
    this.#lock();
    // Closed means empty (I7), so this takes nothing from a closed port.
    const more = this.#takeAndUnlock(max - out.length);
    for (const p of more) out.push(p);
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
    i32[S_WAITING] = waiting - 1;
  }

  /**
   * Frees every slot that `match` selects. If the lock is held by the dead
   * thread itself (it ended inside a port call), takes the lock over.
   */
  #release(match: (slot: number) => boolean, deadTag: number): ReleasedThread {
    const i32 = this.#i32;
    if (deadTag !== 0 && Atomics.load(i32, S_LOCK) !== 0 && Atomics.load(i32, S_LOCK_OWNER) === deadTag) {
      // The holder is gone and can never unlock: we inherit its lock.
      i32[S_LOCK_OWNER] = MY_TAG;
    } else {
      this.#lock();
    }
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
          let head = this.#head() - 1;
          if (head < 0) head += this.#geo.ringSize;
          const f = this.#geo.ringBase + head * PACKET_F64;
          f64[f] = f64[m]!;
          f64[f + 1] = f64[m + 1]!;
          f64[f + 2] = f64[m + 2]!;
          i32[S_HEAD] = head;
          i32[S_QUEUED] = i32[S_QUEUED]! + 1;
          requeued++;
          }
        }
        if (i32[kindWord] === THREAD) {
          const held = i32[this.#slotWord(slot, W_RUNNING)]!;
          i32[S_RUNNING] = i32[S_RUNNING]! - held;
          running += held;
          i32[S_THREADS] = i32[S_THREADS]! - 1;
        }
        Atomics.store(i32, stateWord, IDLE);
        i32[this.#slotWord(slot, W_RUNNING)] = 0;
        i32[kindWord] = FREE;
      }
    const wake = this.#dispatch();
    this.#unlock();
    this.#notifyAll(wake);
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
