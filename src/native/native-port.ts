/**
 * NativeCompletionPort — the CompletionPort contract over a real Win32 I/O
 * completion port (CreateIoCompletionPort, PostQueuedCompletionStatus,
 * GetQueuedCompletionStatus(Ex), CloseHandle) called through koffi.
 *
 * The kernel keeps the packets and decides who gets them (FIFO packets, LIFO
 * waiters, the NumberOfConcurrentThreads cap). What it does not expose lives
 * in the ledger (./ledger.ts: its words, and the invariants L1–L3 that keep
 * the handle valid for every thread that uses it). The values a packet
 * carries are encoded by ./values.ts; getAsync's wait is ./async-wait.ts.
 *
 * Closing (see close()): the closed flag is set in the ledger and checked
 * after every thread registers itself as "inside" and before it touches the
 * handle value; waiters are woken with one sentinel packet each; the real
 * CloseHandle is deferred until the last thread has left, so no thread ever
 * passes a closed (and possibly reused) handle value to the kernel.
 */
import { PortClosedError } from '../port/errors.js';
import { badHandle, badPacket, checkMax, isPacket, isSharedArrayBuffer, parseGetAsync, parsePortConfig } from '../port/options.js';
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
import { afterSettled } from '../port/after-settled.js';
import { waitAsync } from './async-wait.js';
import { NativeBuffers } from './buffers.js';
import { dequeued, failure, fromEntries, toMs, toPacket } from './dequeued.js';
import {
  checkLedger,
  createLedger,
  Ledger,
  N_CAPACITY,
  N_CLOSED,
  N_CONCURRENCY,
  N_INSIDE,
  N_IO_PENDING,
  N_MAGIC,
  N_NEXT_ID,
  N_QUEUED,
  N_RUNNING,
  N_THREADS,
  N_WAITING,
} from './ledger.js';
import { encodeNumber, encodeOverlapped, SENTINEL_KEY } from './values.js';
import { INVALID_HANDLE_VALUE, WAIT_TIMEOUT, type Win32, win32 } from './win32.js';

export type { NativePortHandle } from '../port/types.js';

/** How many OVERLAPPED_ENTRYs one getMany asks the kernel for at most. */
const MAX_BATCH = 1024;
/** How long close() waits for issued I/O to complete so its blocks can be freed. */
const CLOSE_IO_GRACE_MS = 2000;

const CREATE = Symbol('create');
/** A method name no user code spells by accident; Symbol.for, so every copy of the library agrees on it. */
const INTERNALS: unique symbol = Symbol.for('iocp-pool.native');

/** What the I/O layer (./file.ts, ./socket.ts) uses of a port: the raw handle, used between enter() and leave(). */
export interface PortInternals {
  w: Win32;
  port: bigint;
  i32: Int32Array;
  enter: () => void;
  leave: () => void;
}

/** The internals of a native port; a TypeError for anything else. */
export function internalsOf(port: unknown): PortInternals {
  if (!(port instanceof NativeCompletionPort)) {
    throw new TypeError(`port must be a native completion port (backend 'native'), got ${describe(port)}`);
  }
  return port[INTERNALS]();
}

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
  readonly #ledger: Ledger;
  readonly #concurrency: number;
  readonly #capacity: number;
  /** Out-parameters of the sync calls. */
  readonly #buf: NativeBuffers;

  private constructor(token: typeof CREATE, w: Win32, port: bigint, buffer: SharedArrayBuffer) {
    super();
    if (token !== CREATE) throw new TypeError('use new CompletionPort({ backend: "native" }) or CompletionPort.from(handle)');
    this.#w = w;
    this.#port = port;
    this.#ledger = new Ledger(w, port, buffer);
    this.#buf = new NativeBuffers(w);
    this.#i32 = this.#ledger.i32;
    this.#concurrency = this.#i32[N_CONCURRENCY]!;
    this.#capacity = this.#i32[N_CAPACITY]!;
    this.handle = Object.freeze({ backend: 'native', port: port.toString(), pid: process.pid, buffer });
  }

  /** CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, concurrency). Options as for the portable port. */
  static create(options?: CompletionPortOptions): NativeCompletionPort {
    const config = parsePortConfig(options);
    const w = win32();
    const port = w.CreateIoCompletionPort(INVALID_HANDLE_VALUE, 0n, 0n, config.concurrency);
    if (port === 0n) throw new Error(`CreateIoCompletionPort failed: Win32 error ${w.GetLastError()}`);
    return new NativeCompletionPort(CREATE, w, port, createLedger(config));
  }

  /** Attaches to a native port from its handle (same process, any thread). */
  static from(handle: PortHandle): NativeCompletionPort {
    const h = handle as Partial<NativePortHandle>;
    if (typeof h.port !== 'string' || !/^[1-9][0-9]{0,19}$/.test(h.port)) throw badHandle('it has no native port handle value');
    if (!isSharedArrayBuffer(h.buffer)) throw badHandle('it has no native port buffer');
    checkLedger(h.buffer);
    if (h.pid !== process.pid) throw badHandle(`it belongs to process ${String(h.pid)}; a Win32 handle value is valid only in its own process`);
    return new NativeCompletionPort(CREATE, win32(), BigInt(h.port), h.buffer);
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

  /** PostQueuedCompletionStatus. Returns false when `capacity` posted packets are queued. */
  post(bytesTransferred = 0, completionKey = 0, overlapped = 0): boolean {
    if (!isPacket(bytesTransferred, completionKey, overlapped)) badPacket(bytesTransferred, completionKey, overlapped);
    const i32 = this.#i32;
    const ledger = this.#ledger;
    ledger.enter('post() on a closed completion port');
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
      ledger.leave();
    }
  }

  /** GetQueuedCompletionStatus: the oldest packet, null on WAIT_TIMEOUT, PortClosedError once closed. */
  get(timeoutMs?: number): CompletionPacket | null {
    const timeout = timeoutMs === undefined ? Infinity : checkTimeout('timeoutMs', timeoutMs);
    const ledger = this.#ledger;
    const entry = this.#beginSyncWait();
    const w = this.#w;
    const buf = this.#buf;
    const out = buf.out;
    let ok = 0;
    let error = 0;
    try {
      ok = w.GetQueuedCompletionStatus(this.#port, out, out + 8n, out + 16n, toMs(timeout));
      if (!ok) error = w.GetLastError();
    } finally {
      ledger.endWait(entry);
    }
    try {
      const packet = dequeued(w, ledger, ok, error, buf.u32![0]!, buf.big![1]!, buf.big![2]!);
      if (packet !== null) ledger.took();
      return packet;
    } finally {
      ledger.leave(entry);
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
      // syncMs: a blocking GQCS first, then the asynchronous one (./async-wait.ts).
      const syncMs = config.syncMs;
      if (syncMs > 0 && timeout > 0) {
        const first = this.get(Math.min(syncMs, timeout));
        if (first !== null || timeout <= syncMs) return Promise.resolve(first);
        if (timeout !== Infinity) timeout -= syncMs;
      }
      this.#ledger.register();
      this.#ledger.giveBack();
      if (this.closed) throw new PortClosedError();
    } catch (error) {
      return Promise.reject(error);
    }
    return waitAsync(this.#w, this.#port, this.#ledger, timeout);
  }

  /** GetQueuedCompletionStatusEx: waits for at least one packet, returns up to max; [] on timeout. */
  getMany(max: number, timeoutMs?: number): CompletionPacket[] {
    checkMax(max);
    const timeout = timeoutMs === undefined ? Infinity : checkTimeout('timeoutMs', timeoutMs);
    const ledger = this.#ledger;
    const entry = this.#beginSyncWait();
    const w = this.#w;
    const count = Math.min(max, MAX_BATCH);
    const buf = this.#buf;
    if (!buf.ensureEntries(count)) {
      ledger.endWait(entry);
      ledger.leave(entry);
      throw new RangeError('HeapAlloc for OVERLAPPED_ENTRY[] failed');
    }
    let ok = 0;
    let error = 0;
    try {
      ok = w.GetQueuedCompletionStatusEx(this.#port, buf.entries, count, buf.out + 24n, toMs(timeout), 0);
      if (!ok) error = w.GetLastError();
    } finally {
      ledger.endWait(entry);
    }
    try {
      if (!ok) {
        if (error === WAIT_TIMEOUT) return [];
        throw failure(ledger, 'GetQueuedCompletionStatusEx', error);
      }
      const out = fromEntries(w, ledger, this.#port, buf.entriesView!, buf.u32![6]!);
      if (out.length > 0) ledger.took();
      return out;
    } finally {
      ledger.leave(entry);
    }
  }

  /** Start of a sync wait: register, give back the running slot, out-parameters ready, counted inside and waiting. */
  #beginSyncWait(): number {
    const ledger = this.#ledger;
    const entry = ledger.register();
    ledger.giveBack();
    this.#buf.outBlock();
    ledger.beginWait(entry);
    return entry;
  }

  /**
   * Runs fn as a blocking section. The kernel already stops counting a thread
   * against the cap while it waits in any kernel wait; here only this
   * library's own `running` accounting is given back and retaken.
   */
  blocking<T>(fn: () => T): T {
    checkFunction('fn', fn);
    const slot = this.#ledger.register();
    return afterSettled(fn, this.#ledger.giveBackAll(slot));
  }

  /**
   * Closes the port: later calls throw PortClosedError, every thread waiting
   * in GQCS is woken with a close sentinel (and throws PortClosedError), the
   * packets still queued are returned (I/O packets with their data, their
   * native blocks freed), and CloseHandle runs once the last thread inside a
   * call has left. Idempotent: a second call returns [].
   */
  close(): CompletionPacket[] {
    const i32 = this.#i32;
    const ledger = this.#ledger;
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
      const buf = this.#buf;
      const out = buf.outBlock();
      const big = buf.big!;
      const grace = performance.now() + CLOSE_IO_GRACE_MS;
      for (;;) {
        const pending = Atomics.load(i32, N_IO_PENDING) > 0 && performance.now() < grace;
        const ok = w.GetQueuedCompletionStatus(this.#port, out, out + 8n, out + 16n, pending ? 20 : 0);
        const error = ok ? 0 : w.GetLastError();
        const ov = big[2]!;
        if (!ok && ov === 0n) {
          if (error === WAIT_TIMEOUT && pending) continue;
          break;
        }
        if (big[1] === SENTINEL_KEY) continue;
        packets.push(toPacket(w, ledger, buf.u32![0]!, big[1]!, ov, error));
      }
      // One sentinel per thread counted as waiting: each wakes one GQCS and makes it throw.
      const waiters = Atomics.load(i32, N_WAITING);
      for (let i = 0; i < waiters; i++) w.PostQueuedCompletionStatus(this.#port, 0, SENTINEL_KEY, 0n);
    } finally {
      ledger.leave();
    }
    this.#buf.freeEntries();
    return packets;
  }

  /**
   * Gives back what a thread that ended held in this library's accounting:
   * its running slots, and its waits' share of the "inside" and "waiting"
   * counts — a thread terminated in GetQueuedCompletionStatus never left
   * them. If it was the last thread inside a closed port, the deferred
   * CloseHandle runs now.
   */
  releaseThread(deadThreadId: number): ReleasedThread {
    checkInteger('threadId', deadThreadId, 0, 0x7fffffff);
    const running = this.#ledger.releaseTag(deadThreadId + 1);
    // A thread blocked in GQCS cannot be taken off the kernel's wait list from outside, and the
    // kernel does not say which packet it dequeued for whom (lastTaken).
    return { running, waiters: 0, requeued: 0, abandoned: [], lastTaken: [], deferred: false };
  }

  /**
   * Gives back this instance's accounting; it registers again on its next
   * call. A getAsync still in the kernel cannot be taken back: it settles
   * when its GetQueuedCompletionStatus returns (a packet it dequeued is
   * delivered, uncounted), and the entry is kept for it until then, so no
   * other thread's accounting is touched by it.
   */
  detach(): void {
    this.#ledger.detach();
  }

  /** A snapshot of the library's accounting for the port (the kernel does not expose its own). */
  stats(): PortStats {
    const i32 = this.#i32;
    const ledger = this.#ledger;
    const closed = Atomics.load(i32, N_CLOSED) !== 0;
    let queued = closed ? 0 : Math.max(0, Atomics.load(i32, N_QUEUED));
    const w = this.#w;
    if (!closed && w.NtQueryIoCompletion !== undefined && ledger.tryEnter()) {
      try {
        const out = this.#buf.outBlock();
        if (w.NtQueryIoCompletion(this.#port, 0, out + 24n, 4, 0n) === 0) queued = this.#buf.u32![6]!;
      } finally {
        ledger.leave();
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

  /** @internal For the I/O layer (internalsOf): the raw handle, used after the closed check. */
  [INTERNALS](): PortInternals {
    const ledger = this.#ledger;
    return {
      w: this.#w,
      port: this.#port,
      i32: this.#i32,
      enter: () => ledger.enter('the completion port is closed'),
      leave: () => ledger.leave(),
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
}
