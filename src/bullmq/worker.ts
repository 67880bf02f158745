/**
 * createWorker(): a BullMQ Worker whose processor runs each job on a pool.
 *
 * BullMQ keeps doing what it does — fetching, locks, retries, rate limits,
 * stalled-job recovery — and the processor only hands `job.data` to
 * `pool.run()` and returns what the handler returned (BullMQ stores it as
 * `job.returnvalue`). BullMQ's `concurrency` is then the number of jobs this
 * process holds active at once; the pool decides how many of them run at once.
 *
 * The processor also keeps a record of the jobs in flight per worker, so that
 * closeWorker() can hand back to the queue the ones a deadline cuts short.
 */
import type { Job, Worker } from 'bullmq';
import { loadBullMQ } from './load.js';
import type { CreateWorkerOptions, JobPool, JobRunOptions } from './types.js';

const bullmq = loadBullMQ();

// The registry and the hand-back work on any worker and job, whatever their type parameters.
type AnyWorker = Worker<any, any, any>;
type AnyJob = Job<any, any, any>;

/** A job whose pool.run() has not been abandoned. */
interface InFlight {
  readonly job: AnyJob;
  /** pool.run() settled: the job finishes here, whatever a deadline says. */
  settled: boolean;
  /** Makes the processor stop waiting for pool.run() and hand the job back. */
  release: () => void;
}

/** The jobs in flight of one worker, and whether a deadline has passed for it. */
export interface Registry {
  readonly inFlight: Set<InFlight>;
  /** Set by closeWorker() at its deadline: jobs that arrive later are handed back at once. */
  releasing: string | undefined;
  /** Jobs handed back since (those in flight at the deadline, and those that arrived after it). */
  released: number;
}

const registries = new WeakMap<AnyWorker, Registry>();

export function registryOf(worker: AnyWorker): Registry | undefined {
  return registries.get(worker);
}

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
  const { handlerName, ...workerOptions } = options;
  if (handlerName !== undefined && typeof handlerName !== 'function') {
    throw new TypeError('createWorker(): handlerName must be a function (job) => string | undefined');
  }
  const nameOf = handlerName ?? ((job: Job<Data, Result, Name>): string => job.name);
  if (workerOptions.concurrency === undefined && typeof pool.threads === 'number') {
    // BullMQ's default of 1 would leave all threads but one idle.
    workerOptions.concurrency = pool.threads;
  }
  const registry: Registry = { inFlight: new Set(), releasing: undefined, released: 0 };

  // Three parameters: BullMQ gives a cancellation signal only to a processor that declares it.
  const processor = async (job: Job<Data, Result, Name>, token?: string, signal?: AbortSignal): Promise<Result> => {
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
    const entry: InFlight = { job, settled: false, release: () => {} };
    const outcome = new Promise<Result | typeof RELEASED>((resolve, reject) => {
      entry.release = () => resolve(RELEASED);
      pool.run(job.data, runOptions).then(
        (result) => {
          entry.settled = true;
          resolve(result as Result);
        },
        (error: unknown) => {
          entry.settled = true;
          reject(error);
        },
      );
    });
    registry.inFlight.add(entry);
    if (registry.releasing !== undefined) release(worker, registry, entry, registry.releasing);
    let result: Result | typeof RELEASED;
    try {
      result = await outcome;
    } catch (error) {
      if (!poolGone(error)) throw error;
      // This worker can run nothing more: stop taking jobs (not awaited: close()
      // waits for this very processor), and give this one back.
      worker.emit('error', error as Error);
      void worker.close().catch(() => {});
      return requeue(worker, job, token);
    } finally {
      registry.inFlight.delete(entry);
    }
    if (result === RELEASED) return requeue(worker, job, token);
    if (progress !== undefined) await progress;
    return result;
  };

  const worker = new bullmq.Worker<Data, Result, Name>(queueName, processor, workerOptions);
  registries.set(worker, registry);
  return worker;
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

/** Hands one job back: the processor stops waiting, the handler's signal aborts. Returns whether it did. */
export function release(worker: AnyWorker, registry: Registry, entry: InFlight, reason: string): boolean {
  if (entry.settled) return false;
  registry.inFlight.delete(entry);
  registry.released++;
  entry.release();
  if (entry.job.id !== undefined) worker.cancelJob(entry.job.id, reason);
  return true;
}
