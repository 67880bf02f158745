/**
 * NativeCompletionPort — the CompletionPort contract (../port/completion-port.ts),
 * over a real Win32 I/O completion port (CreateIoCompletionPort,
 * PostQueuedCompletionStatus, GetQueuedCompletionStatus(Ex), CloseHandle)
 * called through koffi.
 *
 * The kernel keeps the packets and decides who gets them (FIFO packets, LIFO
 * waiters, the NumberOfConcurrentThreads cap). What the kernel does not expose
 * — how many threads wait, which ones count as running in our sense, how many
 * posted packets are queued against `capacity`, whether the port is closed —
 * lives in a small SharedArrayBuffer carried in `port.handle`, so every thread
 * that attaches sees the same numbers.
 *
 * Values: a packet's completionKey and overlapped are JS numbers. A posted
 * packet carries their IEEE-754 bits as the ULONG_PTRs, so any finite number
 * round-trips exactly. An overlapped whose bits would look like a user-mode
 * pointer (only tiny positive subnormals) is moved into NaN space, which no
 * finite number uses, so a dequeued OVERLAPPED below 2^47 is always one of
 * this library's I/O blocks (./overlapped.ts) and nothing else.
 *
 * Closing (see close()): the closed flag is set in shared memory and checked
 * after every thread registers itself as "inside" (N_INSIDE) and before it
 * touches the handle value; waiters are woken with one sentinel packet each;
 * the real CloseHandle is deferred until the last thread has left, so no
 * thread ever passes a closed (and possibly reused) handle value to the kernel.
 *
 * A thread's waits are counted in its own thread-table entry too (E_INSIDE,
 * E_WAITING). A thread terminated in a wait never leaves it — V8 does not run
 * `finally` blocks when it terminates a thread, and a getAsync's callback
 * never runs on a dead thread's event loop — so releaseThread() takes the
 * dead thread's share out of N_INSIDE and N_WAITING, and runs the deferred
 * CloseHandle if it was the last one inside.
 */
import { afterSettled } from '../port/after-settled.js';
import { threadId } from 'node:worker_threads';
import { PortClosedError } from '../port/errors.js';
import { badPacket, checkMax, isPacket, MAX_THREADS_LIMIT, parseGetAsync, parsePortConfig } from '../port/options.js';
import { PortBase } from '../port/port-base.js';
import type {
  CompletionPacket,
  CompletionPortOptions,
  GetAsyncOptions,
  NativePortHandle,
  PortHandle,
  PortStats,
  ReleasedThread,
} from '../port/types.js';
import { checkFunction, checkInteger, checkTimeout, describe } from '../port/validate.js';
import { completeBlock, type IoCompletionPacket, USER_ADDRESS_LIMIT } from './overlapped.js';
import { ERROR_ABANDONED_WAIT_0, ERROR_INVALID_HANDLE, INFINITE, INVALID_HANDLE_VALUE, WAIT_TIMEOUT, type Win32, win32 } from './win32.js';

export type { NativePortHandle } from '../port/types.js';

// ── shared accounting (Int32Array words) ──
const N_MAGIC = 0;
const N_VERSION = 1;
const N_CLOSED = 2;
/** Threads between "about to call GQCS" and "returned from it". */
const N_WAITING = 3;
const N_RUNNING = 4;
const N_THREADS = 5;
const N_CONCURRENCY = 6;
const N_CAPACITY = 7;
/** Posted packets not yet dequeued (for capacity, and stats when NtQueryIoCompletion is missing). */
const N_QUEUED = 8;
/** Threads inside any call that uses the handle value. */
const N_INSIDE = 9;
/** 1 once CloseHandle has been called (exactly once). */
const N_HANDLE_CLOSED = 10;
const N_NEXT_ID = 11;
/** Overlapped operations issued whose packet has not been dequeued yet. */
export const N_IO_PENDING = 12;
const N_MAX_THREADS = 13;
const T_BASE = 16;
/**
 * Thread-table entry e at T_BASE + E_WORDS·e: its thread's tag (threadId + 1;
 * negated while a detached instance's getAsync is still in the kernel: the
 * entry is not reused until it returns), the running slots it holds, and
 * its waits' share of N_INSIDE and N_WAITING.
 */
const E_WORDS = 4;
const E_TAG = 0;
const E_RUNNING = 1;
const E_INSIDE = 2;
const E_WAITING = 3;
const MAGIC = 0x4e494f43; // 'NIOC'
const VERSION = 2;

/** How many OVERLAPPED_ENTRYs one getMany asks the kernel for at most. */
const MAX_BATCH = 1024;
/** How long close() waits for issued I/O to complete so its blocks can be freed. */
const CLOSE_IO_GRACE_MS = 2000;

/** A completion key no finite number encodes to (a NaN bit pattern): the close sentinel. */
const SENTINEL_KEY = 0x7ff4_c105_ed00_0001n;
/** Tag for posted overlapped values that would otherwise look like a user-mode pointer. */
const NAN_TAG = 0x7ff8_0000_0000_0000n;
const NAN_MASK = 0xfff8_0000_0000_0000n;
const LOW51 = (1n << 51n) - 1n;

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

export function encodeNumber(x: number): bigint {
  f64[0] = x;
  return u64[0]!;
}

export function decodeNumber(bits: bigint): number {
  u64[0] = bits;
  return f64[0]!;
}

function encodeOverlapped(x: number): bigint {
  f64[0] = x;
  const bits = u64[0]!;
  return bits !== 0n && bits < USER_ADDRESS_LIMIT ? bits | NAN_TAG : bits;
}

function decodeOverlapped(bits: bigint): number {
  if ((bits & NAN_MASK) === NAN_TAG && (bits & LOW51) < USER_ADDRESS_LIMIT && (bits & LOW51) !== 0n) bits &= LOW51;
  u64[0] = bits;
  return f64[0]!;
}

const CREATE = Symbol('create');

/**
 * libuv's thread pool runs koffi's .async calls: keep one pool thread free for fs/dns/crypto.
 * Read on the first native getAsync, not at import: importing the package must not touch
 * the environment (Deno asks for --allow-env on every read, even on Linux).
 */
let asyncWaitLimit = 0;
function maxAsyncWaits(): number {
  if (asyncWaitLimit === 0) asyncWaitLimit = Math.max(1, (Number(process.env.UV_THREADPOOL_SIZE) || 4) - 1);
  return asyncWaitLimit;
}
let asyncWaits = 0;
const asyncQueue: Array<() => void> = [];

/**
 * The same interface as CompletionPort over a real Win32 I/O completion port, called through
 * koffi (Windows only). Made by `new CompletionPort({ backend: 'native' })` (or 'auto' on
 * Windows) and `CompletionPort.from(handle)` of a native handle; `port instanceof
 * CompletionPort` holds. Real handles complete on it: NativeFile, NativeSocket. Guide:
 * docs/native.md.
 */
export class NativeCompletionPort extends PortBase {
  /** Structured-cloneable, valid in this process only: send it to a worker and call `CompletionPort.from(handle)` there. */
  readonly handle: NativePortHandle;
  readonly #w: Win32;
  readonly #port: bigint;
  readonly #i32: Int32Array;
  readonly #concurrency: number;
  readonly #capacity: number;
  readonly #maxThreads: number;
  /** This instance's entry in the thread table, or -1. */
  #slot = -1;
  /** getAsync waits of this instance in the kernel (or queued for it). */
  #asyncPending = 0;
  /** The entry a detach() left reserved for those waits, or -1. */
  #draining = -1;
  /** Native out-parameters for the sync calls: bytes@0, key@8, overlapped@16, removed@24. */
  #out = 0n;
  #outBig: BigUint64Array | undefined;
  #outU32: Uint32Array | undefined;
  #entries = 0n;
  #entriesCount = 0;
  #entriesView: DataView | undefined;

  private constructor(token: typeof CREATE, w: Win32, port: bigint, buffer: SharedArrayBuffer) {
    super();
    if (token !== CREATE) throw new TypeError('use new CompletionPort({ backend: "native" }) or CompletionPort.from(handle)');
    this.#w = w;
    this.#port = port;
    this.#i32 = new Int32Array(buffer);
    this.#concurrency = this.#i32[N_CONCURRENCY]!;
    this.#capacity = this.#i32[N_CAPACITY]!;
    this.#maxThreads = this.#i32[N_MAX_THREADS]!;
    this.handle = Object.freeze({ backend: 'native', port: port.toString(), pid: process.pid, buffer });
  }

  /** CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, concurrency). Options as for the portable port. */
  static create(options?: CompletionPortOptions): NativeCompletionPort {
    const { concurrency, capacity, maxThreads } = parsePortConfig(options);
    const w = win32();
    const port = w.CreateIoCompletionPort(INVALID_HANDLE_VALUE, 0n, 0n, concurrency);
    if (port === 0n) throw new Error(`CreateIoCompletionPort failed: Win32 error ${w.GetLastError()}`);
    const buffer = new SharedArrayBuffer((T_BASE + E_WORDS * maxThreads) * 4);
    const i32 = new Int32Array(buffer);
    i32[N_MAGIC] = MAGIC;
    i32[N_VERSION] = VERSION;
    i32[N_CONCURRENCY] = concurrency;
    i32[N_CAPACITY] = capacity;
    i32[N_MAX_THREADS] = maxThreads;
    return new NativeCompletionPort(CREATE, w, port, buffer);
  }

  /** Attaches to a native port from its handle (same process, any thread). */
  static from(handle: PortHandle): NativeCompletionPort {
    const h = handle as Partial<NativePortHandle>;
    const bad = (why: string): never => {
      throw new TypeError(`handle must be a completion port handle (port.handle): ${why}`);
    };
    if (typeof h.port !== 'string' || !/^[1-9][0-9]{0,19}$/.test(h.port)) bad('it has no native port handle value');
    if (Object.prototype.toString.call(h.buffer) !== '[object SharedArrayBuffer]') bad('it has no native port buffer');
    const buffer = h.buffer as SharedArrayBuffer;
    if (buffer.byteLength < T_BASE * 4) bad('its buffer is too small');
    const i32 = new Int32Array(buffer);
    if (i32[N_MAGIC] !== MAGIC || i32[N_VERSION] !== VERSION) bad('its buffer has no native port header');
    const maxThreads = i32[N_MAX_THREADS]!;
    if (maxThreads < 1 || maxThreads > MAX_THREADS_LIMIT || buffer.byteLength !== (T_BASE + E_WORDS * maxThreads) * 4) {
      bad('its header does not match its size');
    }
    if (h.pid !== process.pid) bad(`it belongs to process ${String(h.pid)}; a Win32 handle value is valid only in its own process`);
    return new NativeCompletionPort(CREATE, win32(), BigInt(h.port!), buffer);
  }

  /** The kernel's NumberOfConcurrentThreads for this port. */
  get concurrency(): number {
    return this.#concurrency;
  }

  /** How many posted packets may be queued before post() returns false. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Whether close() has been called (by any thread). */
  get closed(): boolean {
    return Atomics.load(this.#i32, N_CLOSED) !== 0;
  }

  // ───────────────────────────── post ─────────────────────────────

  /** PostQueuedCompletionStatus. Returns false when `capacity` posted packets are queued. */
  post(bytesTransferred = 0, completionKey = 0, overlapped = 0): boolean {
    if (!isPacket(bytesTransferred, completionKey, overlapped)) badPacket(bytesTransferred, completionKey, overlapped);
    const i32 = this.#i32;
    this.#enter('post() on a closed completion port');
    try {
      if (Atomics.add(i32, N_QUEUED, 1) >= this.#capacity) {
        Atomics.sub(i32, N_QUEUED, 1);
        return false;
      }
      const w = this.#w;
      if (!w.PostQueuedCompletionStatus(this.#port, bytesTransferred, encodeNumber(completionKey), encodeOverlapped(overlapped))) {
        Atomics.sub(i32, N_QUEUED, 1);
        throw new Error(`PostQueuedCompletionStatus failed: Win32 error ${w.GetLastError()}`);
      }
      return true;
    } finally {
      this.#leave();
    }
  }

  // ───────────────────────────── get ─────────────────────────────

  /** GetQueuedCompletionStatus: the oldest packet, null on WAIT_TIMEOUT, PortClosedError once closed. */
  get(timeoutMs?: number): CompletionPacket | null {
    const timeout = timeoutMs === undefined ? Infinity : checkTimeout('timeoutMs', timeoutMs);
    this.#beginWait();
    const entry = this.#slot;
    const w = this.#w;
    const out = this.#out;
    let ok = 0;
    let error = 0;
    try {
      ok = w.GetQueuedCompletionStatus(this.#port, out, out + 8n, out + 16n, toMs(timeout));
      if (!ok) error = w.GetLastError();
    } finally {
      this.#endWait(entry);
    }
    try {
      const packet = this.#result(ok, error, this.#outU32![0]!, this.#outBig![1]!, this.#outBig![2]!);
      if (packet !== null) this.#took();
      return packet;
    } finally {
      this.#leave(entry);
    }
  }

  /**
   * getAsync: the same GQCS, run on a libuv pool thread through koffi's
   * `.async`, so the event loop never blocks. At most UV_THREADPOOL_SIZE − 1
   * (default 3) such waits are in the kernel at once per process; later calls
   * wait their turn in JS (not yet counted in stats().waiting).
   */
  getAsync(timeoutMs?: number, options?: GetAsyncOptions): Promise<CompletionPacket | null> {
    let timeout: number;
    try {
      // spinCount is accepted for interface parity; the kernel wait has no user-space spin to tune.
      const config = parseGetAsync(timeoutMs, options);
      timeout = config.timeout;
      // syncMs: a blocking GQCS first, then the asynchronous one.
      const syncMs = config.syncMs;
      if (syncMs > 0 && timeout > 0) {
        const first = this.get(Math.min(syncMs, timeout));
        if (first !== null || timeout <= syncMs) return Promise.resolve(first);
        if (timeout !== Infinity) timeout -= syncMs;
      }
      this.#register();
      this.#giveBack();
      if (this.closed) throw new PortClosedError();
    } catch (error) {
      return Promise.reject(error);
    }
    this.#asyncPending++;
    const settled = (): void => {
      if (--this.#asyncPending === 0 && this.#draining >= 0) this.#freeEntry(this.#draining, false);
    };
    return new Promise((resolve, reject) => {
      const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let started = false;
      const start = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        started = true;
        asyncWaits++;
        this.#startAsync(deadline, (error, packet) => {
          asyncWaits--;
          settled();
          const next = asyncQueue.pop();
          if (next !== undefined) next();
          if (error !== undefined) reject(error);
          else resolve(packet!);
        });
      };
      if (asyncWaits < maxAsyncWaits()) {
        start();
        return;
      }
      // Over the limit: wait in JS, newest first (the kernel's LIFO order).
      asyncQueue.push(start);
      if (deadline !== Infinity) {
        timer = setTimeout(() => {
          if (started) return;
          const i = asyncQueue.indexOf(start);
          if (i >= 0) asyncQueue.splice(i, 1);
          settled();
          resolve(null);
        }, timeout);
      }
    });
  }

  #startAsync(deadline: number, done: (error: unknown, packet?: CompletionPacket | null) => void): void {
    // The entry this wait is counted in: the instance's, or the one a detach() keeps for it.
    let entry: number;
    try {
      entry = this.#slot >= 0 ? this.#slot : this.#draining >= 0 ? this.#draining : this.#register();
      this.#beginWait(true, entry);
    } catch (error) {
      done(error);
      return;
    }
    const w = this.#w;
    let out: bigint;
    try {
      out = w.HeapAlloc(w.processHeap, 0, 32n);
      if (out === 0n) throw new RangeError('HeapAlloc for GetQueuedCompletionStatus out-parameters failed');
    } catch (error) {
      this.#endWait(entry);
      this.#leave(entry);
      done(error);
      return;
    }
    const ms = deadline === Infinity ? INFINITE : toMs(Math.max(0, deadline - performance.now()));
    w.GetQueuedCompletionStatus.async(this.#port, out, out + 8n, out + 16n, ms, (callError, ok) => {
      // koffi restores the pool thread's last error on this thread before calling back.
      const error = ok ? 0 : w.GetLastError();
      this.#endWait(entry);
      let packet: CompletionPacket | null = null;
      let failed = false;
      let failure: unknown;
      try {
        if (callError) throw callError;
        const big = new BigUint64Array(w.view(out, 24));
        const bytes = new Uint32Array(w.view(out, 4))[0]!;
        packet = this.#result(ok, error, bytes, big[1]!, big[2]!);
        // A wait that outlived a detach() delivers its packet; the detached thread is not counted as running.
        if (packet !== null && entry === this.#slot) this.#took();
      } catch (e) {
        failed = true;
        failure = e;
      } finally {
        w.HeapFree(w.processHeap, 0, out);
        this.#leave(entry);
      }
      // Settled after leaving: the entry may be freed (and reused) once this wait is done with it.
      if (failed) done(failure);
      else done(undefined, packet);
    });
  }

  /** GetQueuedCompletionStatusEx: waits for at least one packet, returns up to max; [] on timeout. */
  getMany(max: number, timeoutMs?: number): CompletionPacket[] {
    checkMax(max);
    const timeout = timeoutMs === undefined ? Infinity : checkTimeout('timeoutMs', timeoutMs);
    this.#beginWait();
    const entry = this.#slot;
    const w = this.#w;
    const count = Math.min(max, MAX_BATCH);
    if (this.#entriesCount < count) {
      if (this.#entries !== 0n) w.HeapFree(w.processHeap, 0, this.#entries);
      this.#entries = 0n;
      this.#entriesCount = 0;
      const size = Math.max(count, 16);
      const p = w.HeapAlloc(w.processHeap, 0, BigInt(size * 32));
      if (p === 0n) {
        this.#endWait(entry);
        this.#leave(entry);
        throw new RangeError('HeapAlloc for OVERLAPPED_ENTRY[] failed');
      }
      this.#entries = p;
      this.#entriesCount = size;
      this.#entriesView = new DataView(w.view(p, size * 32));
    }
    let ok = 0;
    let error = 0;
    try {
      ok = w.GetQueuedCompletionStatusEx(this.#port, this.#entries, count, this.#out + 24n, toMs(timeout), 0);
      if (!ok) error = w.GetLastError();
    } finally {
      this.#endWait(entry);
    }
    try {
      if (!ok) {
        if (error === WAIT_TIMEOUT) return [];
        throw this.#failure('GetQueuedCompletionStatusEx', error);
      }
      const removed = this.#outU32![6]!;
      const v = this.#entriesView!;
      const out: CompletionPacket[] = [];
      let sentinels = 0;
      for (let i = 0; i < removed; i++) {
        const e = i * 32;
        const key = v.getBigUint64(e, true);
        const ov = v.getBigUint64(e + 8, true);
        const bytes = v.getUint32(e + 24, true);
        if (key === SENTINEL_KEY) {
          sentinels++;
          continue;
        }
        out.push(this.#packet(bytes, key, ov, 0));
      }
      if (sentinels > 0) {
        // Each sentinel is one blocked thread's wake-up: keep one for ourselves
        // only if we are about to throw, and hand the rest back.
        const mine = out.length === 0 ? 1 : 0;
        for (let i = mine; i < sentinels; i++) w.PostQueuedCompletionStatus(this.#port, 0, SENTINEL_KEY, 0n);
        if (out.length === 0) throw new PortClosedError();
      }
      if (out.length > 0) this.#took();
      return out;
    } finally {
      this.#leave(entry);
    }
  }

  // ─────────────────────────── blocking ───────────────────────────

  /**
   * Runs fn as a blocking section. The kernel already stops counting a thread
   * against the cap while it waits in any kernel wait; here only this
   * library's own `running` accounting is given back and retaken.
   */
  blocking<T>(fn: () => T): T {
    checkFunction('fn', fn);
    const slot = this.#register();
    const word = T_BASE + E_WORDS * slot + E_RUNNING;
    const i32 = this.#i32;
    const held = Atomics.exchange(i32, word, 0);
    if (held > 0) Atomics.sub(i32, N_RUNNING, held);
    const reacquire = (): void => {
      if (held === 0 || this.#slot !== slot) return;
      Atomics.add(i32, word, held);
      Atomics.add(i32, N_RUNNING, held);
    };
    return afterSettled(fn, reacquire);
  }

  // ───────────────────────────── close ─────────────────────────────

  /**
   * Closes the port: later calls throw PortClosedError, every thread waiting
   * in GQCS is woken with a close sentinel (and throws PortClosedError), the
   * packets still queued are returned (I/O packets with their data, their
   * native blocks freed), and CloseHandle runs once the last thread inside a
   * call has left. Idempotent: a second call returns [].
   */
  close(): CompletionPacket[] {
    const i32 = this.#i32;
    if (Atomics.compareExchange(i32, N_CLOSED, 0, 1) !== 0) return [];
    Atomics.add(i32, N_INSIDE, 1);
    const w = this.#w;
    const packets: CompletionPacket[] = [];
    try {
      // Let posts and drains already past their closed check finish (they take microseconds).
      const spinUntil = performance.now() + 1000;
      while (Atomics.load(i32, N_INSIDE) - 1 - Atomics.load(i32, N_WAITING) > 0 && performance.now() < spinUntil) {
        Atomics.wait(i32, N_MAGIC, 0, 0.05);
      }
      // Drain; wait a little for overlapped I/O still in flight so its blocks are freed, not leaked.
      const out = this.#outBlock();
      const big = this.#outBig!;
      const grace = performance.now() + CLOSE_IO_GRACE_MS;
      let sentinels = 0;
      for (;;) {
        const pending = Atomics.load(i32, N_IO_PENDING) > 0 && performance.now() < grace;
        const ok = w.GetQueuedCompletionStatus(this.#port, out, out + 8n, out + 16n, pending ? 20 : 0);
        const error = ok ? 0 : w.GetLastError();
        const ov = big[2]!;
        if (!ok && ov === 0n) {
          if (error === WAIT_TIMEOUT && pending) continue;
          break;
        }
        if (big[1] === SENTINEL_KEY) {
          sentinels++;
          continue;
        }
        packets.push(this.#packet(this.#outU32![0]!, big[1]!, ov, error));
      }
      // One sentinel per thread counted as waiting: each wakes one GQCS and makes it throw.
      const waiters = Atomics.load(i32, N_WAITING);
      for (let i = 0; i < waiters; i++) w.PostQueuedCompletionStatus(this.#port, 0, SENTINEL_KEY, 0n);
      void sentinels;
    } finally {
      this.#leave();
    }
    this.#freeScratch();
    return packets;
  }

  // ───────────────────────── threads, stats ─────────────────────────

  /**
   * Gives back what a thread that ended held in this library's accounting:
   * its running slots, and its waits' share of the "inside" and "waiting"
   * counts — a thread terminated in GetQueuedCompletionStatus never left
   * them. If it was the last thread inside a closed port, the deferred
   * CloseHandle runs now.
   */
  releaseThread(deadThreadId: number): ReleasedThread {
    checkInteger('threadId', deadThreadId, 0, 0x7fffffff);
    const i32 = this.#i32;
    const tag = deadThreadId + 1;
    let running = 0;
    for (let e = 0; e < this.#maxThreads; e++) {
      const t = Atomics.load(i32, T_BASE + E_WORDS * e + E_TAG);
      if (t !== tag && t !== -tag) continue;
      running += this.#freeEntry(e, t === tag);
      if (e === this.#slot) this.#slot = -1;
    }
    // A thread blocked in GQCS cannot be taken off the kernel's wait list from outside.
    return { running, waiters: 0, requeued: 0, abandoned: [], deferred: false };
  }

  /**
   * Gives back this instance's accounting; it registers again on its next
   * call. A getAsync still in the kernel cannot be taken back: it settles
   * when its GetQueuedCompletionStatus returns (a packet it dequeued is
   * delivered, uncounted), and the entry is kept for it until then, so no
   * other thread's accounting is touched by it.
   */
  detach(): void {
    const slot = this.#slot;
    if (slot < 0) return;
    const i32 = this.#i32;
    this.#slot = -1;
    if (this.#asyncPending > 0) {
      const held = Atomics.exchange(i32, T_BASE + E_WORDS * slot + E_RUNNING, 0);
      if (held > 0) Atomics.sub(i32, N_RUNNING, held);
      Atomics.store(i32, T_BASE + E_WORDS * slot + E_TAG, -(threadId + 1));
      Atomics.sub(i32, N_THREADS, 1);
      this.#draining = slot;
      return;
    }
    this.#freeEntry(slot, true);
  }

  /**
   * Frees thread-table entry e: its running slots and its waits' share of
   * N_INSIDE / N_WAITING back (`counted`: it is still in N_THREADS). Returns
   * the running slots it held.
   */
  #freeEntry(e: number, counted: boolean): number {
    const i32 = this.#i32;
    const base = T_BASE + E_WORDS * e;
    const held = Atomics.exchange(i32, base + E_RUNNING, 0);
    if (held !== 0) Atomics.sub(i32, N_RUNNING, held);
    const waiting = Atomics.exchange(i32, base + E_WAITING, 0);
    if (waiting !== 0) Atomics.sub(i32, N_WAITING, waiting);
    const inside = Atomics.exchange(i32, base + E_INSIDE, 0);
    Atomics.store(i32, base + E_TAG, 0);
    if (counted) Atomics.sub(i32, N_THREADS, 1);
    if (e === this.#draining) this.#draining = -1;
    if (inside !== 0) this.#leaveBy(inside);
    return held;
  }

  /** A snapshot of the library's accounting for the port (the kernel does not expose its own). */
  stats(): PortStats {
    const i32 = this.#i32;
    const closed = Atomics.load(i32, N_CLOSED) !== 0;
    let queued = closed ? 0 : Math.max(0, Atomics.load(i32, N_QUEUED));
    const w = this.#w;
    if (!closed && w.NtQueryIoCompletion !== undefined && this.#tryEnter()) {
      try {
        const out = this.#outBlock();
        if (w.NtQueryIoCompletion(this.#port, 0, out + 24n, 4, 0n) === 0) queued = this.#outU32![6]!;
      } finally {
        this.#leave();
      }
    }
    return {
      queued,
      running: Math.max(0, Atomics.load(i32, N_RUNNING)),
      waiting: Math.max(0, Atomics.load(i32, N_WAITING)),
      threads: Math.max(0, Atomics.load(i32, N_THREADS)),
      concurrency: this.#concurrency,
      capacity: this.#capacity,
      closed,
      backend: 'native',
    };
  }

  /** @internal For the I/O layer: the raw handle, after the closed check. */
  [Symbol.for('iocp-pool.native')](): { w: Win32; port: bigint; i32: Int32Array; enter: () => void; leave: () => void } {
    return {
      w: this.#w,
      port: this.#port,
      i32: this.#i32,
      enter: () => this.#enter('the completion port is closed'),
      leave: () => this.#leave(),
    };
  }

  /** Overlapped operations issued on this port whose packets have not been dequeued yet (their native blocks are live). */
  pendingIo(): number {
    return Atomics.load(this.#i32, N_IO_PENDING);
  }

  /** A fresh operation id, unique per port. */
  nextId(): number {
    return Atomics.add(this.#i32, N_NEXT_ID, 1) + 1;
  }

  // ─────────────────────────── internals ───────────────────────────

  #outBlock(): bigint {
    if (this.#out === 0n) {
      const w = this.#w;
      const p = w.HeapAlloc(w.processHeap, 8, 32n);
      if (p === 0n) throw new RangeError('HeapAlloc for GetQueuedCompletionStatus out-parameters failed');
      this.#out = p;
      this.#outBig = new BigUint64Array(w.view(p, 32));
      this.#outU32 = new Uint32Array(w.view(p, 32));
    }
    return this.#out;
  }

  #freeScratch(): void {
    const w = this.#w;
    if (this.#entries !== 0n) w.HeapFree(w.processHeap, 0, this.#entries);
    this.#entries = 0n;
    this.#entriesCount = 0;
    this.#entriesView = undefined;
  }

  /** Counts this thread as inside a call that uses the handle value; throws (and leaves) if closed. */
  #enter(message?: string): void {
    const i32 = this.#i32;
    Atomics.add(i32, N_INSIDE, 1);
    if (Atomics.load(i32, N_CLOSED) !== 0) {
      this.#leave();
      throw new PortClosedError(message);
    }
  }

  #tryEnter(): boolean {
    const i32 = this.#i32;
    Atomics.add(i32, N_INSIDE, 1);
    if (Atomics.load(i32, N_CLOSED) === 0) return true;
    this.#leave();
    return false;
  }

  /** Leaves a call that entered with #enter (entry -1) or #beginWait (its entry). */
  #leave(entry = -1): void {
    if (entry >= 0) Atomics.sub(this.#i32, T_BASE + E_WORDS * entry + E_INSIDE, 1);
    this.#leaveBy(1);
  }

  /** The last thread to leave a closed port closes the handle, exactly once. */
  #leaveBy(n: number): void {
    const i32 = this.#i32;
    if (Atomics.sub(i32, N_INSIDE, n) === n && Atomics.load(i32, N_CLOSED) !== 0) {
      if (Atomics.compareExchange(i32, N_HANDLE_CLOSED, 0, 1) === 0) this.#w.CloseHandle(this.#port);
    }
  }

  #register(): number {
    if (this.#slot >= 0) return this.#slot;
    const i32 = this.#i32;
    for (let s = 0; s < this.#maxThreads; s++) {
      const base = T_BASE + E_WORDS * s;
      if (Atomics.compareExchange(i32, base + E_TAG, 0, threadId + 1) === 0) {
        Atomics.store(i32, base + E_RUNNING, 0);
        Atomics.store(i32, base + E_INSIDE, 0);
        Atomics.store(i32, base + E_WAITING, 0);
        Atomics.add(i32, N_THREADS, 1);
        this.#slot = s;
        return s;
      }
    }
    throw new RangeError(
      `the completion port has no free thread slot: ${this.#maxThreads} threads are attached ` +
        '(raise options.maxThreads, or call releaseThread()/detach() for threads that ended)',
    );
  }

  /** The thread is done with the packet it had: one running slot back. */
  #giveBack(): void {
    const i32 = this.#i32;
    const word = T_BASE + E_WORDS * this.#slot + E_RUNNING;
    if (Atomics.load(i32, word) > 0) {
      Atomics.sub(i32, word, 1);
      Atomics.sub(i32, N_RUNNING, 1);
    }
  }

  #took(): void {
    Atomics.add(this.#i32, T_BASE + E_WORDS * this.#slot + E_RUNNING, 1);
    Atomics.add(this.#i32, N_RUNNING, 1);
  }

  /**
   * Start of every wait: register, give back the running slot, count as
   * inside and waiting, and check closed. The port's counts go up before the
   * entry's and come down after them (#endWait, #leave), so the entry never
   * holds more than the port: what releaseThread() takes out of the port was
   * in it, and the handle is never closed under a thread still inside.
   */
  #beginWait(async = false, entry = this.#slot): void {
    if (!async) {
      entry = this.#register();
      this.#giveBack();
      this.#outBlock();
    }
    const i32 = this.#i32;
    const base = T_BASE + E_WORDS * entry;
    Atomics.add(i32, N_INSIDE, 1);
    Atomics.add(i32, base + E_INSIDE, 1);
    Atomics.add(i32, N_WAITING, 1);
    Atomics.add(i32, base + E_WAITING, 1);
    if (Atomics.load(i32, N_CLOSED) !== 0) {
      this.#endWait(entry);
      this.#leave(entry);
      throw new PortClosedError();
    }
  }

  /** A wait returned from the kernel: out of the waiting counts (the entry's first, then the port's). */
  #endWait(entry: number): void {
    Atomics.sub(this.#i32, T_BASE + E_WORDS * entry + E_WAITING, 1);
    Atomics.sub(this.#i32, N_WAITING, 1);
  }

  /** Turns one GQCS result into a packet, null (timeout) or an error. Still inside: the handle is valid. */
  #result(ok: number, error: number, bytes: number, key: bigint, ov: bigint): CompletionPacket | null {
    if (!ok && ov === 0n) {
      if (error === WAIT_TIMEOUT) return null;
      throw this.#failure('GetQueuedCompletionStatus', error);
    }
    if (key === SENTINEL_KEY) throw new PortClosedError();
    return this.#packet(bytes, key, ov, ok ? 0 : error);
  }

  #packet(bytes: number, key: bigint, ov: bigint, error: number): CompletionPacket | IoCompletionPacket {
    const completionKey = decodeNumber(key);
    if (ov !== 0n && ov < USER_ADDRESS_LIMIT) {
      // One of our I/O blocks: copy out, free it.
      Atomics.sub(this.#i32, N_IO_PENDING, 1);
      return completeBlock(this.#w, ov, bytes, completionKey, error);
    }
    Atomics.sub(this.#i32, N_QUEUED, 1);
    return { bytesTransferred: bytes, completionKey, overlapped: decodeOverlapped(ov) };
  }

  #failure(call: string, error: number): Error {
    if (error === ERROR_ABANDONED_WAIT_0 || error === ERROR_INVALID_HANDLE || this.closed) {
      return new PortClosedError(`${call} failed with Win32 error ${error}: the port was closed`);
    }
    return new Error(`${call} failed: Win32 error ${error}`);
  }
}

function toMs(timeout: number): number {
  if (timeout === Infinity) return INFINITE;
  return Math.min(Math.ceil(timeout), INFINITE - 1);
}

export { describe as describeValue };
