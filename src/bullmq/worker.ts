/**
 * createWorker(): a BullMQ Worker whose processor runs each job on a pool.
 *
 * BullMQ keeps doing what it does — fetching, locks, retries, rate limits,
 * stalled-job recovery — and the processor only hands `job.data` to
 * `pool.run()` and returns what the handler returned (BullMQ stores it as
 * `job.returnvalue`). BullMQ's `concurrency` is then the number of jobs this
 * process holds active at once; the pool decides how many of them run at once.
 *
 * Shutdown at a deadline (closeWorker) reuses BullMQ's own per-job
 * AbortSignal: it marks the worker's registry as releasing, then aborts every
 * job BullMQ tracks (cancelAllJobs); a processor whose signal aborts while
 * its worker is releasing stops waiting and hands the job back to the queue.
 * Without signals (cancellation: false) closeWorker destroys the pool instead,
 * and the processors hand their jobs back when run() rejects.
 * Why not a set of the jobs in flight: a long-lived collection holding every
 * job's promise graph gets that graph promoted to the old generation, and the
 * major GCs that followed cost 10-15 µs per job in a micro-benchmark (70 % of
 * the time in GC) — more than BullMQ's whole per-job cost.
 */
import type { Job, Worker } from 'bullmq';
import { loadBullMQ } from './load.js';
import type { CreateWorkerOptions, JobData, JobName, JobPool, JobResult, JobRunOptions } from './types.js';

const bullmq = loadBullMQ();

// The registry, the hand-back and closeWorker() work on any worker and job, whatever their type
// parameters: a Worker<Data, Result, Name> is not assignable to Worker<unknown, unknown, string>.
/** A BullMQ Worker, whatever its type arguments. */
// biome-ignore lint/suspicious/noExplicitAny: any type arguments at all, see above.
export type AnyWorker = Worker<any, any, any>;
// biome-ignore lint/suspicious/noExplicitAny: any type arguments at all, see above.
type AnyJob = Job<any, any, any>;

/** Per worker: whether a shutdown deadline has passed, and how many jobs went back since. */
export interface Registry {
  /** The processor takes BullMQ's per-job signal (createWorker's `cancellation`). */
  readonly cancellation: boolean;
  /** Set by closeWorker() at its deadline: aborted jobs, and jobs that arrive later, are handed back. */
  releasing: string | undefined;
  /** Jobs handed back since (those in flight at the deadline, and those that arrived after it). */
  released: number;
}

const registries = new WeakMap<AnyWorker, Registry>();

export function registryOf(worker: AnyWorker): Registry | undefined {
  return registries.get(worker);
}

/** T, but not a place TypeScript infers T from (TypeScript 5.4's NoInfer, for every version). */
type Given<T> = [T][T extends unknown ? 0 : never];

/** The marker a released job's wait resolves with (never a handler's result: it is not cloneable). */
const RELEASED: unique symbol = Symbol('released');

/**
 * Errors that say the pool cannot run anything any more (closed, destroyed,
 * or its module failed to load). The job did not fail: it goes back to the
 * queue for a worker that can run it. Matched by name: the error classes
 * live in the core bundle, a different module from this one.
 */
function poolGone(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'PoolClosedError' || name === 'WorkerLoadError';
}

/**
 * A BullMQ `Worker` on the queue `queueName` whose jobs run on `pool`: `job.data` is the task,
 * `job.name` picks the worker module's export (`options.handlerName` decides otherwise), the
 * handler's result is `job.returnvalue`, `context.progress(value)` is `job.updateProgress(value)`,
 * and a job's cancellation reaches `context.signal`. `options` are BullMQ's `WorkerOptions`
 * (`connection` at least; `concurrency` defaults to the pool's threads) and the adapter's own.
 * It is an ordinary `Worker`; stop it with {@link closeWorker}, which closes the pool after it.
 *
 * Its jobs are typed from the pool's type: on a `ThreadPool<typeof import('./jobs.js')>`,
 * `job.data` is the union of the handlers' tasks, `job.returnvalue` of their results, `job.name`
 * one of their names; on an untyped pool, BullMQ's defaults (`any`).
 */
export function createWorker<P extends JobPool>(
  queueName: string,
  pool: P,
  options: CreateWorkerOptions<JobData<P>, JobResult<P>, JobName<P>>,
): Worker<JobData<P>, JobResult<P>, JobName<P>>;
/**
 * The same, with the job types given by hand: `createWorker<Data, Result, Name>(queueName, pool,
 * options)`. (Given, never inferred from `options`: a handlerName that takes other jobs than the
 * pool's is an error, not a silent change of type.)
 */
export function createWorker<Data, Result, Name extends string = string>(
  queueName: string,
  pool: JobPool,
  options: CreateWorkerOptions<Given<Data>, Given<Result>, Given<Name>>,
): Worker<Data, Result, Name>;
// biome-ignore lint/suspicious/noExplicitAny: the implementation behind both signatures above.
export function createWorker<Data = any, Result = any, Name extends string = string>(
  queueName: string,
  pool: JobPool,
  options: CreateWorkerOptions<Data, Result, Name>,
): Worker<Data, Result, Name> {
  if (pool === null || typeof pool !== 'object' || typeof pool.run !== 'function') {
    throw new TypeError('createWorker(queueName, pool, options): pool must be a ThreadPool');
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError('createWorker(queueName, pool, options): options must be an object (BullMQ needs at least `connection`)');
  }
  const { handlerName, cancellation = true, ...workerOptions } = options;
  if (handlerName !== undefined && typeof handlerName !== 'function') {
    throw new TypeError('createWorker(): handlerName must be a function (job) => string | undefined');
  }
  if (typeof cancellation !== 'boolean') throw new TypeError('createWorker(): cancellation must be a boolean');
  const nameOf = handlerName ?? ((job: Job<Data, Result, Name>): string => job.name);
  if (workerOptions.concurrency === undefined && typeof pool.threads === 'number') {
    // BullMQ's default of 1 would leave all threads but one idle.
    workerOptions.concurrency = pool.threads;
  }
  const registry: Registry = { cancellation, releasing: undefined, released: 0 };

  const runJob = async (job: Job<Data, Result, Name>, token?: string, signal?: AbortSignal): Promise<Result> => {
    if (registry.releasing !== undefined) {
      // Fetched by BullMQ but handed over after the deadline: back it goes, unrun.
      registry.released++;
      return requeue(worker, job, token);
    }
    let progress: Promise<void> | undefined;
    const runOptions: JobRunOptions = {
      name: nameOf(job),
      signal,
      // Chained: each update is stored after the one before it, and all of them before the result.
      onProgress: (value) => {
        progress = (progress ?? Promise.resolve())
          .then(() => job.updateProgress(value as Parameters<typeof job.updateProgress>[0]))
          .catch((error: unknown) => void worker.emit('error', error as Error));
      },
    };
    let result: Result | typeof RELEASED;
    try {
      result = await (signal === undefined
        ? (pool.run(job.data, runOptions) as Promise<Result>)
        : runUnlessReleased(pool, job.data, runOptions, signal, registry));
    } catch (error) {
      if (!poolGone(error)) throw error;
      if (registry.releasing !== undefined) {
        registry.released++; // closeWorker() destroyed the pool at its deadline (no signal to cancel by)
      } else {
        // This worker can run nothing more: stop taking jobs (not awaited: close()
        // waits for this very processor), and give this one back.
        worker.emit('error', error as Error);
        void worker.close().catch(() => {});
      }
      return requeue(worker, job, token);
    }
    if (result === RELEASED) {
      registry.released++;
      return requeue(worker, job, token);
    }
    if (progress !== undefined) await progress;
    return result;
  };

  // BullMQ makes a job's AbortSignal only for a processor that declares a third parameter.
  const processor = cancellation
    ? (job: Job<Data, Result, Name>, token?: string, signal?: AbortSignal) => runJob(job, token, signal)
    : (job: Job<Data, Result, Name>, token?: string) => runJob(job, token, undefined);
  const worker = new bullmq.Worker<Data, Result, Name>(queueName, processor, workerOptions);
  registries.set(worker, registry);
  return worker;
}

/**
 * pool.run(), unless the job's signal aborts while the worker is releasing
 * (closeWorker's deadline): then RELEASED at once, whatever the handler is
 * still doing. An abort at any other time is a cancellation, the pool's
 * business: a queued task never runs, a running one sees context.signal.
 */
function runUnlessReleased<Result>(
  pool: JobPool,
  data: unknown,
  options: JobRunOptions,
  signal: AbortSignal,
  registry: Registry,
): Promise<Result | typeof RELEASED> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      if (registry.releasing !== undefined) resolve(RELEASED);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    (pool.run(data, options) as Promise<Result>).then(
      (result) => {
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Moves the job from active back to wait (at the head of the line, its lock
 * released, no attempt counted) and tells BullMQ so: a WaitingError makes the
 * worker leave the job where it now is instead of failing it.
 */
async function requeue(worker: AnyWorker, job: AnyJob, token: string | undefined): Promise<never> {
  try {
    await job.moveToWait(token);
  } catch (error) {
    // Lock already lost (or Redis gone): BullMQ's stalled-job check returns it to wait.
    worker.emit('error', error as Error);
  }
  throw new bullmq.WaitingError();
}

/**
 * closeWorker()'s deadline: every job still waiting on the pool goes back to
 * the queue. Returns false when the worker's jobs have no signal to abort
 * (cancellation: false): then only destroying the pool stops them waiting.
 */
export function releaseAll(worker: AnyWorker, registry: Registry, reason: string): boolean {
  registry.releasing = reason;
  worker.cancelAllJobs(reason);
  return registry.cancellation;
}
