/**
 * The types of handlers and of the tasks and results that travel to them.
 *
 * `new ThreadPool<typeof import('./worker.js')>(…)` lets TypeScript read the
 * worker module's exports: `run(task, { name: 'resize' })` then takes the
 * `resize` export's first parameter and resolves to its awaited return type,
 * and `run(task)` those of the default handler. `new ThreadPool<Task,
 * Result>` (two types) still declares them by hand, and `new ThreadPool(…)`
 * (none) takes and returns `unknown`.
 */
import type { Histogram } from 'node:perf_hooks';

/** What a handler receives besides its task. @group Worker modules */
export interface HandlerContext {
  /**
   * Aborted when the run()'s signal aborts (reason: an AbortError) or its timeout passes (a
   * TimeoutError). Undefined when the run() had neither.
   */
  readonly signal: AbortSignal | undefined;
  /**
   * Sends a value (anything cloneable) to the run()'s onProgress, in order, before the run()
   * settles. Does nothing when the run() has no onProgress, or once the task has settled.
   */
  progress(value: unknown): void;
}

/** A worker module's handler: `run(task)` resolves with what it returns (or the promise it returns resolves to). @group Worker modules */
// biome-ignore lint/suspicious/noExplicitAny: a handler's task type is the module author's to choose.
export type Handler<Task = any, Result = unknown> = (task: Task, context: HandlerContext) => Result | Promise<Result>;

/** The default type argument of ThreadPool's second parameter: "infer from the first". */
declare const INFER: unique symbol;
export type Infer = typeof INFER;

// biome-ignore lint/suspicious/noExplicitAny: matches any function, whatever its parameters.
type AnyFunction = (...args: any[]) => unknown;

/**
 * The names of a module type's function exports that run() may call: `default` included, the
 * lifecycle hooks `setup` and `teardown` not (they are not handlers, and the pool refuses them).
 * @group Worker modules
 */
export type HandlerName<M> = M extends AnyFunction
  ? never
  : Exclude<{ [K in keyof M]: M[K] extends AnyFunction ? K : never }[keyof M] & string, 'setup' | 'teardown'>;

/** The default handler of a module type (its default export, else `handler`), or of a handler type. */
type DefaultHandler<M> = M extends AnyFunction
  ? M
  : M extends { default: infer D extends AnyFunction }
    ? D
    : M extends { handler: infer H extends AnyFunction }
      ? H
      : never;

/** The handler `run(task, { name: N })` calls on a pool of module type M (N = never: the default). */
type HandlerOf<M, N> = [N] extends [never] ? DefaultHandler<M> : N extends keyof M ? M[N] : never;

type TaskOf<H> = H extends (task: infer T, ...rest: infer _) => unknown ? T : unknown;
type ResultOf<H> = H extends (...args: infer _) => infer R ? Awaited<R> : unknown;

/** The task type of run(), from ThreadPool's type arguments T and R, for handler name N. */
export type RunTask<T, R, N> = [R] extends [Infer] ? (unknown extends T ? unknown : TaskOf<HandlerOf<T, N>>) : T;

/** The result type of run(), from ThreadPool's type arguments T and R, for handler name N. */
export type RunResult<T, R, N> = [R] extends [Infer] ? (unknown extends T ? unknown : ResultOf<HandlerOf<T, N>>) : R;

/**
 * What a pool of type arguments T, R runs, over all its handlers: the union of their tasks, the
 * union of their (awaited) results, and the names run() accepts. For a pool declared by hand
 * (`ThreadPool<Task, Result>`), those two types and any name; for an untyped one, `unknown`.
 * Adapters read it from a pool's type (iocp-pool/bullmq's createWorker types its jobs with it).
 */
export type PoolTypes<T, R> = [R] extends [Infer]
  ? unknown extends T
    ? { task: unknown; result: unknown; name: string }
    : { task: TaskOf<HandlerOf<T, HandlerName<T>>>; result: ResultOf<HandlerOf<T, HandlerName<T>>>; name: HandlerName<T> }
  : { task: T; result: R; name: string };

/** The names run() accepts: the module type's function exports, or any string when the pool is untyped. */
export type RunName<T, R> = [R] extends [Infer] ? (unknown extends T ? string : HandlerName<T>) : string;

/**
 * Why a pool thread left: 'close' (it took its close() sentinel), 'idle' (idle above minThreads
 * for idleTimeout), 'recycle' (maxTasksPerThread, maxHeapUsedBeforeRecycle or recycle()),
 * 'destroy' (destroy()), 'stopped' (terminated by the pool: the module cannot be used, or a
 * close() deadline passed), 'timeout' (terminated: a task on it ran past its timeout), 'died'
 * (process.exit, an uncaught error, resource limits).
 *
 * @group Events and stats
 */
export type ThreadExitReason = 'close' | 'idle' | 'recycle' | 'destroy' | 'stopped' | 'timeout' | 'died';

/** A pool thread, as the 'threadStart' and 'threadExit' events describe it. @group Events and stats */
export interface PoolThreadInfo {
  /** Its worker_threads threadId. */
  threadId: number;
  /** Its id in the pool (currentPool().workerId inside it). */
  workerId: number;
}

/**
 * A pool thread as `pool.threadInfo()` lists it: alive now, started (`ready`) or still loading the
 * worker module. The same object for a thread on every call.
 *
 * @group Events and stats
 */
export interface PoolThread extends PoolThreadInfo {
  /** It has loaded the worker module (and run its setup()): it takes tasks. */
  readonly ready: boolean;
  /**
   * Keeps the process alive while this thread lives, whatever the pool's keep-alive policy (which
   * lets a process whose pool is idle exit): e.g. to see the 'error' event of a timer a handler
   * left behind. Until unref() or the thread's exit.
   */
  ref(): void;
  /** Undoes ref(): the pool's keep-alive policy decides for this thread again. */
  unref(): void;
}

/** What `pool.histograms()` returns: live perf_hooks histograms, in microseconds. @group Events and stats */
export interface PoolHistograms {
  /** How long handlers ran (sampled tasks). */
  runTime: Histogram;
  /** How long tasks waited between run() and the handler's start (sampled tasks). */
  waitTime: Histogram;
}

/** The pool's events and their listeners' arguments. @group Events and stats */
export interface PoolEvents {
  /** A thread loaded the module (and ran its setup()): it takes tasks from now on. stdout/stderr: its streams, with the pool's stdout/stderr options. */
  threadStart: [
    thread: PoolThreadInfo & {
      /** The thread's stdout when the pool's `stdout` option is true, else null (it goes to the main thread's). */
      stdout: NodeJS.ReadableStream | null;
      /** The thread's stderr when the pool's `stderr` option is true, else null (it goes to the main thread's). */
      stderr: NodeJS.ReadableStream | null;
    },
  ];
  /** A thread left; `reason` says why, `code` is its exit code. */
  threadExit: [
    thread: PoolThreadInfo & {
      /**
       * 'close' (its close() sentinel), 'idle' (above minThreads for idleTimeout), 'recycle',
       * 'destroy', 'stopped' (terminated by the pool: the module cannot be used, or a close()
       * deadline passed), 'timeout' (a task on it ran past its timeout), 'died' (process.exit,
       * an uncaught error, resource limits).
       */
      reason: ThreadExitReason;
      /** Its exit code. */
      code: number;
    },
  ];
  /** needsDrain went back to false: queued run() tasks fell below the limit. */
  drain: [];
  /**
   * A handler posted `message` on `parentPort` (`require('node:worker_threads').parentPort.postMessage()`):
   * a copy (structured clone), with the thread it came from.
   */
  message: [message: unknown, thread: PoolThreadInfo];
  /**
   * A queueRequest handler failed (`wParam` is its request), a thread died while no run() was
   * there to carry the news (a WorkerDiedError), or queueRequest packets were left unhandled by
   * close(). With no listener these become process warnings instead.
   */
  error: [error: Error, wParam?: number];
}

/** Percentiles of a sampled duration, as stats() reports them. @group Events and stats */
export interface Percentiles {
  /** Samples taken since the pool started (the percentiles are over the latest of them, a fixed number). */
  samples: number;
  /** The median, in ms. */
  p50: number;
  /** The 90th percentile, in ms. */
  p90: number;
  /** The 99th percentile, in ms. */
  p99: number;
  /** The largest of the samples kept, in ms. */
  max: number;
}
