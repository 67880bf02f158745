/**
 * The thread pool: `new ThreadPool({ filename })` and `pool.run(task)`, imported from `iocp-pool`.
 * Its options, what a worker module's handlers get, its events and stats, its errors. Guide:
 * docs/pool.md.
 *
 * @module ThreadPool
 */
export { ThreadPool } from './thread-pool.js';
export type { CloseOptions, RunOptions } from './call-options.js';
export type { PoolHeapOptions, ThreadPoolOptions, ThreadPoolStats } from './options.js';
export type { SharedHeapStats } from '../heap/options.js';
export type { Serialization } from '../codec/serialization.js';
export { currentPool } from './client.js';
export type { PoolClient, RunInWorkerOptions } from './client.js';
export { AbortError, PoolClosedError, QueueFullError, TimeoutError, WorkerDiedError, WorkerLoadError } from './errors.js';
export type {
  Handler,
  HandlerContext,
  HandlerName,
  Percentiles,
  PoolEvents,
  PoolHistograms,
  PoolThread,
  PoolThreadInfo,
  ThreadExitReason,
} from './types.js';
export { RUN_CHANNEL } from './tracing.js';
export type { RunTraceContext } from './tracing.js';
