/**
 * What the pool's threads say to each other outside shared memory: the slow
 * path only (start-up, load errors, fallback payloads, aborts of running
 * tasks, queueRequest errors, run() from inside a worker). The hot path —
 * a run() task and its result — never produces one of these messages.
 */
import type { MessagePort } from 'node:worker_threads';
import type { PortHandle } from '../port/index.js';
import type { SegmentGrant, SharedHeapHandle } from '../heap/heap.js';
import type { Serialization } from '../codec/slot-codec.js';

/** Exit codes a pool thread uses for its own, orderly exits (anything else is a death). */
export const EXIT_SENTINEL = 200; // took its sentinel and finished its work: close()
export const EXIT_RETIRED = 201; // idle above minThreads for idleTimeout
export const EXIT_PORT_CLOSED = 202; // the port was closed under it: destroy()
export const EXIT_RECYCLED = 203; // maxTasksPerThread, maxHeapUsedBeforeRecycle or recycle(): replace it

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
  /** queueRequest packets that may wait in the port (the rest of its capacity is reserved for run() slots). */
  queueCapacity: number;
  workerData: unknown;
}

/** Worker → main (worker.on('message')). */
export type FromWorker =
  | { type: 'heap-hello' }
  | { type: 'ready' }
  | { type: 'working' }
  | { type: 'load-error'; error: unknown }
  | { type: 'teardown-error'; error: unknown }
  | { type: 'broadcast-result'; id: number; ok: boolean; value: unknown }
  | { type: 'fetch'; slot: number }
  | { type: 'request-error'; wParam: number; error: unknown }
  | { type: 'run'; id: number; task: unknown; hasSignal: boolean }
  | { type: 'abort-run'; id: number };

/** Main → worker (worker.postMessage). */
export type ToWorker =
  | { type: 'heap-grants'; grants: SegmentGrant[] }
  | { type: 'heap-trimmed' }
  | { type: 'payload'; slot: number; task?: unknown; error?: unknown }
  | { type: 'abort'; slot: number; ticket: number; timeout?: boolean }
  | { type: 'broadcast'; id: number; task: unknown; name: string | undefined }
  | { type: 'recycle' }
  | { type: 'run-result'; id: number; ok: boolean; value: unknown };

/**
 * Worker → main on the worker's result channel, in the order written: results too large for their
 * slot (read synchronously when their packet says so), progress values (run()'s onProgress), and
 * after a task's last progress value the end of its progress (so the main thread knows it has them all).
 * `seq` numbers a thread's messages from 0, so the main thread handles them in that order whichever
 * of its two readers gets each (main/channel.ts).
 */
export type ChannelMessage =
  | { kind: 'result'; seq: number; slot: number; value: unknown }
  | { kind: 'progress'; seq: number; slot: number; ticket: number; value: unknown }
  | { kind: 'progress-end'; seq: number; slot: number; ticket: number };
