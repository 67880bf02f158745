/**
 * What the pool's threads say to each other outside shared memory: the slow
 * path only (start-up, load errors, fallback payloads, aborts of running
 * tasks, queueRequest errors, run() from inside a worker). The hot path —
 * a run() task and its result — never produces one of these messages.
 */
import type { MessagePort } from 'node:worker_threads';
import type { PortHandle } from '../port/index.js';
import type { HeldSegment, SegmentGrant, SharedHeapHandle } from '../heap/heap.js';
import type { ThrownRecord } from '../codec/error-record.js';
import type { Carried } from '../codec/carried.js';
import type { Serialization } from '../codec/serialization.js';

/** Exit codes a pool thread uses for its own, orderly exits (anything else is a death). */
export const EXIT_SENTINEL = 200; // took its sentinel and finished its work: close()
export const EXIT_RETIRED = 201; // idle above minThreads for idleTimeout
export const EXIT_PORT_CLOSED = 202; // the port was closed under it: destroy()
export const EXIT_RECYCLED = 203; // maxTasksPerThread, maxHeapUsedBeforeRecycle or recycle(): replace it
/** Asked to stop (a task on it ran past its timeout): it left from its event loop, in no port call. A death. */
export const EXIT_STOPPED = 204;

/** Where a worker finds its pool: the `workerData` of every pool thread. */
export interface PoolWorkerData {
  __iocpPool: true;
  /** file: URL of the user's worker module. */
  filename: string;
  /** The pool's `name` option: the export that is the default handler (undefined: the module's default). */
  defaultName: string | undefined;
  /** Tasks (run() and queueRequest) a thread takes before it leaves to be replaced (Infinity: no limit). */
  maxTasksPerThread: number;
  /** Heap bytes used above which a thread leaves, between tasks, to be replaced (Infinity: no limit). */
  maxHeapUsedBeforeRecycle: number;
  /** Pending (awaiting) tasks a thread holds at most: at the cap it takes no packet until one settles. */
  concurrentTasksPerThread: number;
  taskPort: PortHandle;
  resultPort: PortHandle;
  arena: SharedArrayBuffer;
  slots: number;
  slotBytes: number;
  /**
   * The pool's shared heap (heap/heap.ts): attach at once, then adopt the grants the main thread answers
   * 'heap-hello' with. Undefined on a runtime that cannot run one (main/heap-keeper.ts).
   */
  heap: SharedHeapHandle | undefined;
  serialization: Serialization;
  workerId: number;
  /** Fallback results go here; the main thread reads it with receiveMessageOnPort. */
  resultChannel: MessagePort;
  spinCount: number;
  idleTimeout: number;
  /** A result waits until what its thread wrote to stdout (stderr) has reached the main thread: false when the pool's stdout (stderr) option hands the stream to the application. */
  flushStdout: boolean;
  flushStderr: boolean;
  /** queueRequest packets that may wait in the port (the rest of its capacity is reserved for run() slots). */
  queueCapacity: number;
  workerData: unknown;
}

/**
 * Worker → main (worker.on('message')): each is sent with `[PROTOCOL]: true` (thread.ts send()),
 * which tells it from what a handler posts on parentPort itself (the pool's 'message' event).
 */
export const PROTOCOL = '__iocpPool';

/** Worker → main (worker.on('message')). */
export type FromWorker =
  | { type: 'heap-hello' }
  /** This thread's part of a heap release round is done (heap/layout.ts, H7). */
  | { type: 'heap-released'; held: HeldSegment[] }
  /** This thread retired heap segments: a release round is due. */
  | { type: 'heap-retired' }
  | { type: 'ready' }
  | { type: 'working' }
  /** The module cannot be used in this thread: it did not load (`setup` false), or its setup() threw. */
  | { type: 'load-error'; error: ThrownRecord; setup: boolean }
  | { type: 'teardown-error'; error: ThrownRecord }
  /** value: the result, or (ok false) what was thrown, recorded (codec/error-record.ts). */
  | { type: 'broadcast-result'; id: number; ok: boolean; value: unknown }
  | { type: 'fetch'; slot: number }
  | { type: 'request-error'; wParam: number; error: ThrownRecord }
  | { type: 'run'; id: number; task: unknown; hasSignal: boolean }
  | { type: 'abort-run'; id: number };

/** Main → worker (worker.postMessage). */
export type ToWorker =
  | { type: 'heap-grants'; grants: SegmentGrant[] }
  /** A heap release round: collect, then answer 'heap-released'. */
  | { type: 'heap-release' }
  /** task: what the codec's carried() gave (for the thread's uncarry()). */
  | { type: 'payload'; slot: number; task?: Carried; error?: ThrownRecord }
  | { type: 'abort'; slot: number; ticket: number; timeout?: boolean }
  | { type: 'broadcast'; id: number; task: unknown; name: string | undefined }
  | { type: 'recycle' }
  /** Leave now (a task on this thread ran past its timeout): between two turns of the event loop, so in no port call. */
  | { type: 'stop' }
  /** value: the result, or (ok false) what was thrown, recorded (codec/error-record.ts). */
  | { type: 'run-result'; id: number; ok: boolean; value: unknown };

/**
 * Worker → main on the worker's result channel, in the order written: results too large for their
 * slot (read synchronously when their packet says so), progress values (run()'s onProgress), and
 * after a task's last progress value the end of its progress (so the main thread knows it has them all).
 * `seq` numbers a thread's messages from 0, so the main thread handles them in that order whichever
 * of its two readers gets each (main/channel.ts).
 */
export type ChannelMessage =
  /** value: what the codec's carried() gave (for the main thread's uncarry()). */
  | { kind: 'result'; seq: number; slot: number; value: Carried }
  | { kind: 'progress'; seq: number; slot: number; ticket: number; value: unknown }
  | { kind: 'progress-end'; seq: number; slot: number; ticket: number };
