/** The adapter's public types: what it needs from a pool, and createWorker()'s options. */
import type { Job, WorkerOptions } from 'bullmq';

/** run() options the adapter passes to the pool (a subset of ThreadPool's RunOptions). */
export interface JobRunOptions {
  /** The named export of the worker module that handles the task (the default export when absent). */
  name?: string;
  /** Aborted when BullMQ cancels the job: a queued task never runs, a running one sees `context.signal` abort. */
  signal?: AbortSignal;
  /** Receives what the handler sends with `context.progress(value)`, in order. */
  onProgress?: (value: unknown) => void;
}

/**
 * What the adapter needs from a pool: a ThreadPool, or anything shaped like
 * one. Structural on purpose, so that the adapter's types do not pin one copy
 * of the ThreadPool class.
 */
export interface JobPool {
  /** Runs one job's task on a pool thread (ThreadPool.run). */
  // biome-ignore lint/suspicious/noExplicitAny: any pool, whatever its task type (a typed ThreadPool's run() is generic).
  run(task: any, options?: JobRunOptions): Promise<unknown>;
  /** Graceful: queued and running tasks finish, then the threads exit (closeWorker() calls it after the worker closed). */
  close(): Promise<void>;
  /** At once: pending tasks reject, the threads are terminated (closeWorker() calls it when the grace after its deadline ran out). */
  destroy(): Promise<void>;
  /** The pool's thread count; the default BullMQ concurrency when the options give none. */
  readonly threads?: number;
}

/**
 * What a pool's type says its jobs are: a ThreadPool carries the union of its handlers' tasks and
 * results and their names (a type-only member, read structurally here); a pool typed from its
 * worker module (`ThreadPool<typeof import('./jobs.js')>`) gives typed jobs, an untyped one
 * BullMQ's own defaults (`any` data and result, any name).
 */
type PoolJobTypes<P> = P extends { readonly '~types'?: { task: infer T; result: infer R; name: infer N } }
  ? // biome-ignore lint/suspicious/noExplicitAny: BullMQ's defaults for an untyped pool, as new Worker() has them.
    { data: unknown extends T ? any : T; result: unknown extends R ? any : R; name: N extends string ? N : string }
  : // biome-ignore lint/suspicious/noExplicitAny: the same, for a pool-shaped object that says nothing.
    { data: any; result: any; name: string };

/** `job.data` of the jobs a worker on pool type P runs: the union of its handlers' tasks. */
export type JobData<P> = PoolJobTypes<P>['data'];
/** `job.returnvalue` of those jobs: the union of its handlers' results. */
export type JobResult<P> = PoolJobTypes<P>['result'];
/** `job.name` of those jobs: the names of its handlers. */
export type JobName<P> = PoolJobTypes<P>['name'];

/** createWorker()'s options: BullMQ's WorkerOptions, passed through, plus the adapter's own two. */
// biome-ignore lint/suspicious/noExplicitAny: BullMQ's own defaults, as in createWorker().
export interface CreateWorkerOptions<Data = any, Result = any, Name extends string = string> extends WorkerOptions {
  /**
   * Which handler of the worker module runs a job: the named export it
   * returns, or the default export for `undefined`. Default: `job.name`.
   */
  handlerName?: (job: Job<Data, Result, Name>) => string | undefined;
  /**
   * Whether jobs can be cancelled: BullMQ's per-job AbortSignal, passed to the
   * pool, so that worker.cancelJob() reaches `context.signal` and closeWorker()
   * can cancel the jobs its deadline cuts short and give them `grace`.
   * Default true. false saves two AbortSignals per job (BullMQ's and the pool
   * thread's; on Node 20 each costs tens of µs of CPU): for tiny jobs.
   * Without it, closeWorker() destroys the pool at its deadline.
   */
  cancellation?: boolean;
}

/** closeWorker()'s options: the shutdown's deadline and the grace after it. */
export interface CloseWorkerOptions {
  /**
   * Milliseconds the jobs in flight may take to finish. When it runs out, the
   * jobs still running are handed back to the queue — waiting, first in line,
   * for any worker — and cancelled: their handlers see `context.signal` abort.
   * Default: no deadline.
   */
  timeout?: number;
  /**
   * After the deadline, milliseconds the cancelled handlers may take to return
   * (to clean up) before the pool's threads are terminated. Default 0.
   */
  grace?: number;
}

/** What closeWorker() did. */
export interface CloseWorkerResult {
  /** Jobs that were still running at the deadline and went back to the queue. */
  requeued: number;
  /** Whether the pool had to be destroyed (threads terminated) rather than closed. */
  destroyed: boolean;
}
