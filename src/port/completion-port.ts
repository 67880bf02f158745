/**
 * CompletionPort: the contract both backends keep (the interface), and the
 * factory behind `new CompletionPort(options)` and `CompletionPort.from(handle)`
 * that picks the backend.
 *
 * The backends are classes that extend one base (./port-base.ts), and that
 * base's prototype is `CompletionPort.prototype`: `port instanceof
 * CompletionPort` holds for a port of either backend by the ordinary
 * prototype chain. The portable backend is ./portable/portable-port.ts; the
 * native one (src/native) registers itself in ./native-registry.ts, since
 * this layer never imports the layers above it.
 *
 * Win32 correspondence:
 *   new CompletionPort()        CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, n)
 *   post()                      PostQueuedCompletionStatus
 *   get() / getAsync()          GetQueuedCompletionStatus
 *   getMany()                   GetQueuedCompletionStatusEx
 *   close()                     CloseHandle (waiters see ERROR_ABANDONED_WAIT_0)
 */
import { autoNative, requireNative } from './native-registry.js';
import { type Backend, badHandle, isSharedArrayBuffer, type PortConfig, parseAttachOptions, parseBackend, parsePortConfig } from './options.js';
import { PortablePort } from './portable/portable-port.js';
import { PortBase } from './port-base.js';
import type { AttachOptions, CompletionPacket, CompletionPortOptions, GetAsyncOptions, PortHandle, PortStats, ReleasedThread } from './types.js';
import { describe } from './validate.js';

/**
 * An I/O completion port: FIFO packets, LIFO waiters, a cap on running threads. Two backends
 * keep this contract: the portable one (a SharedArrayBuffer, any platform, the default) and the
 * native one (the Win32 port through koffi: {@link "iocp-pool/native"!NativeCompletionPort}). Any thread that holds
 * `port.handle` attaches with `CompletionPort.from(handle)`. Guide: docs/port.md.
 *
 * @group The port
 */
export interface CompletionPort {
  /** Structured-cloneable: send it to a worker and call `CompletionPort.from(handle)` there. */
  readonly handle: PortHandle;
  /** The cap on running threads (0 given to the constructor is resolved to os.availableParallelism()). */
  readonly concurrency: number;
  /** How many packets post() may queue before it returns false. */
  readonly capacity: number;
  /** Whether close() has been called (by any thread). */
  readonly closed: boolean;
  /**
   * An optional capability: the portable backend has it, the native one does
   * not (undefined; the kernel's wait has no user-space spin to tune). The most
   * iterations this instance's sync waits (get/getMany) spin on their wait word
   * before sleeping (each wait adapts below it). Settable at run time, per
   * instance (per thread), to an integer ≥ 0 (0 = never spin): spinning pays
   * when the next packet comes within microseconds, and only steals a core when
   * it does not. Setting it starts the adaptive budget again from the new bound.
   */
  spinCount?: number;
  /**
   * PostQueuedCompletionStatus. Hands the packet straight to the newest
   * waiter when the cap allows, else queues it. Returns false when the queue
   * is full (nothing is dropped); throws PortClosedError after close().
   */
  post(bytesTransferred?: number, completionKey?: number, overlapped?: number): boolean;
  /**
   * GetQueuedCompletionStatus. Gives back this thread's running slot, then
   * takes the oldest packet if the cap allows, else waits (newest waiter is
   * released first). Returns null on timeout; throws PortClosedError if the
   * port is or becomes closed.
   */
  get(timeoutMs?: number): CompletionPacket | null;
  /**
   * GetQueuedCompletionStatusEx: waits for at least one packet and returns up
   * to `max`. The thread counts as one running thread however many it takes.
   * Returns [] on timeout.
   */
  getMany(max: number, timeoutMs?: number): CompletionPacket[];
  /**
   * get() for a thread that must not block: waits without blocking the event
   * loop. Shares the one LIFO order with sync waiters. Never throws: errors
   * (bad arguments, a closed port) reject the promise.
   */
  getAsync(timeoutMs?: number, options?: GetAsyncOptions): Promise<CompletionPacket | null>;
  /**
   * Changes the rank (getAsync's `behind` option) of this thread's latest getAsync while it still
   * waits: it moves to where a new wait of that rank would stand. For a thread whose work in
   * hand shrinks while it waits (a pool thread whose async handler settles). No-op once that wait
   * has ended, and on the native backend (no ranks).
   */
  rerank(behind: number | boolean): void;
  /**
   * Runs fn as a blocking section: this thread's running slot is given back
   * for its duration (a waiter is released if packets are queued), and taken
   * back when fn returns or its promise settles — even past the cap, as the
   * kernel does for a thread that wakes from a blocking call.
   */
  blocking<T>(fn: () => T): T;
  /** Sleeps ms milliseconds as a blocking section (see blocking()). Blocks this thread. */
  sleep(ms: number): void;
  /**
   * CloseHandle: wakes every waiter with PortClosedError, makes every later
   * get/post throw, and returns the packets still queued (never dropped
   * silently). Idempotent: a second call returns [] (or packets recovered
   * since from threads that died holding them, see releaseThread).
   */
  close(): CompletionPacket[];
  /** A snapshot of the port's counters (`queued` may move meanwhile). */
  stats(): PortStats;
  /**
   * Gives back everything a thread that has ended still holds: its running
   * slots, its places on the waiter stack, any packet handed to it that it
   * never read (requeued at the front, so it is not lost and keeps its
   * place), and any claim it had not finished. Call it from the owner when a
   * worker exits, with the worker's `threadId` captured when it was created
   * (Node sets `worker.threadId` to -1 once the worker has exited). Returns
   * what was released.
   */
  releaseThread(threadId: number): ReleasedThread;
  /**
   * Gives back this thread's slots and record; the instance may attach again
   * on its next call. A getAsync of this instance still pending is settled
   * first.
   */
  detach(): void;
}

/** `CompletionPort` itself: the factory that picks the backend, and the attach. @group The port */
export interface CompletionPortConstructor {
  /**
   * Creates a port (CreateIoCompletionPort). `options.backend` picks the
   * backend: 'portable' (default), 'native' (Windows; throws saying why
   * elsewhere) or 'auto'.
   */
  new (options?: CompletionPortOptions): CompletionPort;
  /** The prototype every port of every backend inherits. */
  readonly prototype: CompletionPort;
  /**
   * Attach to a port created in another thread (or this one) from its
   * `handle`. Throws a TypeError for anything that is not a port handle.
   */
  from(handle: PortHandle, options?: AttachOptions): CompletionPort;
}

/** Creates the port of the backend the options name. */
function createPort(config: PortConfig, backend: Backend): CompletionPort {
  if (backend === 'native') return requireNative().create(config);
  if (backend === 'auto') {
    const native = autoNative();
    if (native !== undefined) return native.create(config);
  }
  return PortablePort.create(config);
}

function attachPort(handle: PortHandle, options?: AttachOptions): CompletionPort {
  if (handle === null || typeof handle !== 'object') {
    throw new TypeError(`handle must be a completion port handle (port.handle), got ${describe(handle)}`);
  }
  if (handle instanceof PortBase) {
    throw new TypeError("CompletionPort.from() takes the port's handle, not the port: pass port.handle");
  }
  const spinCount = parseAttachOptions(options);
  if (handle.backend === 'native') return requireNative().attach(handle);
  if (handle.backend !== 'portable' || !isSharedArrayBuffer(handle.buffer)) throw badHandle('it has no portable port buffer');
  return PortablePort.attach(handle.buffer, spinCount);
}

/**
 * `new CompletionPort(options)` returns the port of the backend it picks. Its
 * prototype is the backends' base's, so `instanceof` holds for either.
 *
 * @group The port
 */
export const CompletionPort = function CompletionPort(this: unknown, options?: CompletionPortOptions): CompletionPort {
  if (new.target === undefined) throw new TypeError("Class constructor CompletionPort cannot be invoked without 'new'");
  const config = parsePortConfig(options);
  return createPort(config, parseBackend(options));
} as unknown as CompletionPortConstructor;

Object.defineProperty(CompletionPort, 'prototype', { value: PortBase.prototype });
Object.defineProperty(CompletionPort, 'from', { value: attachPort, writable: true, configurable: true });
