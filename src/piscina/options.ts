/**
 * The options of `new Piscina()`, checked as piscina checks them (the same TypeError messages),
 * filled with piscina's defaults, and translated into the ThreadPool's.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import { type TaskQueue, isTaskQueue } from './queue.js';

/** The options of `new Piscina(options)`: piscina 4 and 5's. */
export interface PiscinaOptions {
  /** The worker module: an absolute path or a file: URL. null: every run() names one. */
  filename?: string | URL | null;
  /** The export run() calls when it names none. Default 'default'. */
  name?: string | null;
  /** Threads kept when idle. Default max(cores / 2, 1). */
  minThreads?: number;
  /** Threads at most. Default cores × 1.5. */
  maxThreads?: number;
  /** Milliseconds a thread above minThreads may stay idle. Default 0. */
  idleTimeout?: number;
  /** Tasks that may wait for a thread (beyond it run() rejects); 'auto': maxThreads². Default Infinity. */
  maxQueue?: number | 'auto';
  /** Tasks one thread runs at once, in piscina's model of the pool's capacity (queueSize, maxQueue, a custom taskQueue). Default 1. */
  concurrentTasksPerWorker?: number;
  /** Accepted for compatibility; the pool's threads always wait with Atomics. */
  useAtomics?: boolean;
  /** Accepted for compatibility (piscina 5's name of useAtomics). */
  atomics?: 'sync' | 'async' | 'disabled';
  /** Passed to each thread's `new Worker()`. */
  resourceLimits?: ResourceLimits;
  /** The threads' process.env (or SHARE_ENV). */
  env?: Record<string, string | undefined> | symbol;
  /** Appended to the threads' process.argv. */
  argv?: readonly unknown[];
  /** The threads' Node options. Default: the main thread's. */
  execArgv?: readonly string[];
  /** Given to the worker module as `Piscina.workerData` (structured clone). */
  workerData?: unknown;
  /** A queue of your own for the tasks that wait for a thread (see TaskQueue). */
  taskQueue?: TaskQueue;
  /** Added to each thread's nice value (Unix), through the optional @napi-rs/nice package. Default 0. */
  niceIncrement?: number;
  /** Close the file descriptors a thread opened when it exits. Default true. */
  trackUnmanagedFds?: boolean;
  /** Milliseconds close() waits for running tasks before it destroys the pool. Default 30 000. */
  closeTimeout?: number;
  /** Keep runTime, waitTime and utilization. Default true. */
  recordTiming?: boolean;
}

/** The options a Piscina runs with: `pool.options`, every default filled in. */
export interface FilledPiscinaOptions extends PiscinaOptions {
  filename: string | null;
  name: string;
  minThreads: number;
  maxThreads: number;
  idleTimeout: number;
  maxQueue: number;
  concurrentTasksPerWorker: number;
  useAtomics: boolean;
  niceIncrement: number;
  trackUnmanagedFds: boolean;
  closeTimeout: number;
  recordTiming: boolean;
}

const isCount = (v: unknown, min: number): boolean => typeof v === 'number' && v >= min;

/** Throws piscina's TypeError (or RangeError) for a bad option. */
function check(options: PiscinaOptions): void {
  const o = options as Record<string, unknown>;
  if (o.filename != null && typeof o.filename !== 'string' && !(o.filename instanceof URL))
    throw new TypeError('options.filename must be a string or null');
  if (o.name != null && typeof o.name !== 'string') throw new TypeError('options.name must be a string or null');
  if (o.minThreads !== undefined && !isCount(o.minThreads, 0)) throw new TypeError('options.minThreads must be a non-negative integer');
  if (o.maxThreads !== undefined && !isCount(o.maxThreads, 1)) throw new TypeError('options.maxThreads must be a positive integer');
  if (o.minThreads !== undefined && o.maxThreads !== undefined && (o.minThreads as number) > (o.maxThreads as number))
    throw new RangeError('options.minThreads and options.maxThreads must not conflict');
  if (o.idleTimeout !== undefined && !isCount(o.idleTimeout, 0)) throw new TypeError('options.idleTimeout must be a non-negative integer');
  if (o.maxQueue !== undefined && o.maxQueue !== 'auto' && !isCount(o.maxQueue, 0))
    throw new TypeError('options.maxQueue must be a non-negative integer');
  if (o.concurrentTasksPerWorker !== undefined && !isCount(o.concurrentTasksPerWorker, 1))
    throw new TypeError('options.concurrentTasksPerWorker must be a positive integer');
  if (o.useAtomics !== undefined && typeof o.useAtomics !== 'boolean') throw new TypeError('options.useAtomics must be a boolean value');
  if (o.atomics !== undefined && o.atomics !== 'sync' && o.atomics !== 'async' && o.atomics !== 'disabled')
    throw new TypeError("options.atomics must be 'sync', 'async' or 'disabled'");
  if (o.resourceLimits !== undefined && (typeof o.resourceLimits !== 'object' || o.resourceLimits === null))
    throw new TypeError('options.resourceLimits must be an object');
  if (o.taskQueue !== undefined && !isTaskQueue(o.taskQueue)) throw new TypeError('options.taskQueue must be a TaskQueue object');
  if (o.niceIncrement !== undefined && (typeof o.niceIncrement !== 'number' || (o.niceIncrement < 0 && process.platform !== 'win32')))
    throw new TypeError('options.niceIncrement must be a non-negative integer on Unix systems');
  if (o.trackUnmanagedFds !== undefined && typeof o.trackUnmanagedFds !== 'boolean')
    throw new TypeError('options.trackUnmanagedFds must be a boolean value');
  if (o.closeTimeout !== undefined && !isCount(o.closeTimeout, 0)) throw new TypeError('options.closeTimeout must be a non-negative integer');
  if (o.recordTiming !== undefined && typeof o.recordTiming !== 'boolean') throw new TypeError('options.recordTiming must be a boolean value');
}

/** A file: URL (string or URL) as a path; a path as it is. */
export function toPath(filename: string | URL): string {
  if (filename instanceof URL) return fileURLToPath(filename);
  return filename.startsWith('file:') ? fileURLToPath(filename) : filename;
}

/** Checks the options and fills in piscina's defaults (a minThreads above maxThreads raises maxThreads, and the reverse). */
export function fillOptions(options: PiscinaOptions): FilledPiscinaOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  check(options);
  const cores = availableParallelism();
  let minThreads = options.minThreads ?? Math.max(Math.floor(cores / 2), 1);
  let maxThreads = options.maxThreads ?? cores * 1.5;
  if (options.maxThreads !== undefined && minThreads > options.maxThreads) minThreads = options.maxThreads;
  if (options.minThreads !== undefined && maxThreads < options.minThreads) maxThreads = options.minThreads;
  return {
    ...options,
    filename: options.filename == null ? null : toPath(options.filename),
    name: options.name ?? 'default',
    minThreads,
    maxThreads,
    idleTimeout: options.idleTimeout ?? 0,
    maxQueue: options.maxQueue === 'auto' ? maxThreads ** 2 : (options.maxQueue ?? Infinity),
    concurrentTasksPerWorker: options.concurrentTasksPerWorker ?? 1,
    useAtomics: options.useAtomics ?? true,
    niceIncrement: options.niceIncrement ?? 0,
    trackUnmanagedFds: options.trackUnmanagedFds ?? true,
    closeTimeout: options.closeTimeout ?? 30_000,
    recordTiming: options.recordTiming ?? true,
  };
}
