/** One completion packet: what GetQueuedCompletionStatus returns through its out-parameters. @group The port */
export interface CompletionPacket {
  /** An unsigned 32-bit count: the bytes an I/O moved, or any number the poster chose. */
  bytesTransferred: number;
  /** The per-handle key given when a handle was associated (or by the poster). */
  completionKey: number;
  /** Stands for the OVERLAPPED pointer: an id, an index, an offset. */
  overlapped: number;
}

/** What `port.stats()` reports: a consistent snapshot taken under the port's lock. @group The port */
export interface PortStats {
  /** Packets queued, not yet handed to any thread. */
  queued: number;
  /** Threads that count as running against the concurrency cap. */
  running: number;
  /** Threads (or getAsync calls) waiting for a packet. */
  waiting: number;
  /** Threads attached to the port (that have called get/getAsync/getMany/blocking). */
  threads: number;
  /** The cap on running threads. */
  concurrency: number;
  /** How many packets the queue holds. */
  capacity: number;
  /** Whether close() has been called. */
  closed: boolean;
  /** Which implementation is behind the port. */
  backend: 'portable' | 'native';
}

/**
 * The structured-cloneable value that `CompletionPort.from()` attaches to:
 * `port.handle`, one kind per backend, told apart by `backend`.
 *
 * @group The port
 */
export type PortHandle = PortablePortHandle | NativePortHandle;

/** `port.handle` of a portable port: valid in any thread of the process. @group The port */
export interface PortablePortHandle {
  /** Always 'portable'. */
  readonly backend: 'portable';
  /** The port itself: every word of it lives in this buffer. */
  readonly buffer: SharedArrayBuffer;
}

/** `port.handle` of a native port: valid in the process that created the port only. */
export interface NativePortHandle {
  /** Always 'native'. */
  readonly backend: 'native';
  /** The HANDLE value, decimal. */
  readonly port: string;
  /** The process the handle belongs to: from() refuses it in any other. */
  readonly pid: number;
  /** The library's accounting for the port (waiting, running, queued, closed), shared by every thread. */
  readonly buffer: SharedArrayBuffer;
}

/** The options of `new CompletionPort(options)`; every one is optional. @group The port */
export interface CompletionPortOptions {
  /** Cap on running threads; 0 (the default) means os.availableParallelism(). */
  concurrency?: number;
  /** How many packets post() may queue before it returns false. Default 65536. */
  capacity?: number;
  /** Most threads (and concurrent getAsync calls) that may wait at once. Default 1024. */
  maxThreads?: number;
  /**
   * Most iterations a waiter spins on its wait word before it sleeps (default
   * 20000, ~110 µs here). Each thread adapts its spin below this: it grows
   * after short sleeps and shrinks after long ones. 0 = never spin.
   */
  spinCount?: number;
  /**
   * 'portable' (default): the SharedArrayBuffer port, any platform.
   * 'native': the Win32 I/O completion port through koffi (Windows only; throws saying why elsewhere).
   * 'auto': native on Windows when koffi loads, portable otherwise. See docs/native.md.
   */
  backend?: 'portable' | 'native' | 'auto';
}

/** The options of `port.getAsync(timeoutMs, options)`. @group The port */
export interface GetAsyncOptions {
  /**
   * Spin this many iterations (blocking the event loop meanwhile) before
   * waiting asynchronously. Default 0. For callers that expect a packet
   * within microseconds: a wake-up through Atomics.waitAsync costs ~15 µs.
   */
  spinCount?: number;
  /**
   * After the spin, block this thread (Atomics.wait) up to this many ms
   * before waiting asynchronously. Default 0. For a thread whose event loop
   * can afford a short stall (a pool thread that has just gone idle): a
   * wake-up from Atomics.wait is faster than one through the event loop.
   * The wait keeps its place in the LIFO order throughout.
   */
  syncMs?: number;
  /**
   * Wait behind the other waiters: a rank, `true` for 1. Default 0 (`false`):
   * an ordinary waiter. A packet goes to the waiter of the smallest rank —
   * every ordinary waiter first, newest first (LIFO) — and among equal ranks
   * to the newest; a call that comes back while packets are queued takes one
   * at once only if no waiter of a smaller rank waits. For a thread that
   * still has work in hand (a pool thread whose async handlers await) with
   * how much it holds, so that an idle thread is served first and then the
   * least loaded. Portable backend only: the kernel's port has one LIFO order
   * for all, and a native port accepts the option and ignores it.
   */
  behind?: boolean | number;
}

/** The options of `CompletionPort.from(handle, options)`. @group The port */
export interface AttachOptions {
  /** Override the port's spin count for this thread. */
  spinCount?: number;
}

/** What `port.releaseThread(threadId)` gave back for a thread that ended. @group The port */
export interface ReleasedThread {
  /** Running slots the thread held, now given back. */
  running: number;
  /** Places it had on the waiter stack, now removed. */
  waiters: number;
  /** Packets handed to it that it never read, put back at the head of the queue. */
  requeued: number;
  /**
   * Packets recovered from dead threads when the port was already closed
   * (nowhere to queue them): handed to it, taken by it and not yet freed, or
   * still queued when a close() was cut short by a thread's death.
   */
  abandoned: CompletionPacket[];
  /**
   * The last packet each of the thread's port instances took off the queue
   * for good — its `get()`/`getAsync()` returned it, or was about to — at most
   * one per instance (for a `getMany()`, the last of the batch). The thread
   * may have died before it acted on it, or after: the port cannot tell, its
   * caller may (a thread pool marks the tasks it starts in memory of its own,
   * and puts back the one that never started). Never a packet the release
   * put back (`requeued`) or returned (`abandoned`). Always empty on the
   * native backend, and for a thread that found no free claim record.
   */
  lastTaken: CompletionPacket[];
  /**
   * True when another thread held the port's lock for a while and may have
   * died too, its death not yet reported: the release was left to whoever
   * takes the lock next (the counts above are then 0). Always false on the
   * native backend.
   */
  deferred: boolean;
}
