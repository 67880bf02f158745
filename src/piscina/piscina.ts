/**
 * Piscina: piscina 4/5's pool class over a ThreadPool, so that moving from piscina is a change of
 * import. The ThreadPool runs the worker shim (worker.ts), which loads the user's modules as
 * piscina does; this class keeps piscina's options, errors, events and counters.
 *
 * The ThreadPool is imported from 'iocp-pool' (the package by its own name, an external of this
 * bundle): one copy of the pool's classes, whichever entry loaded it first.
 */
import { AsyncResource } from 'node:async_hooks';
import { EventEmitterAsyncResource } from 'node:events';
import type { TransferListItem } from 'node:worker_threads';
import { type RunOptions as CoreRunOptions, ThreadPool, type ThreadPoolStats } from 'iocp-pool';
import { isAborted, onAbort, reasonOf } from './abort.js';
import { AbortError, Errors, translate } from './errors.js';
import { isMovable, move, queueOptionsSymbol, transferableSymbol, unwrapMoved, valueSymbol } from './move.js';
import { type FilledPiscinaOptions, fillOptions, type PiscinaOptions, toPath } from './options.js';
import { type PiscinaRunOptions, type RunArguments, runArguments, runTaskArguments } from './run-args.js';
import { ArrayTaskQueue, QueuedTask, type TaskQueue } from './queue.js';
import { shimFilename } from './shim-file.js';
import { DISPATCH, type ShimData, workerState } from './state.js';
import { summary, type TimingSummary, Utilization } from './timing.js';

/** The options of `pool.close(options)`. */
export interface PiscinaCloseOptions {
  /** Reject the tasks that wait for a thread (AbortError) instead of running them. Default false. */
  force?: boolean;
}

/** A thread of the pool, as `pool.threads` lists it and 'workerCreate' / 'workerDestroy' report it. */
export interface PiscinaThread {
  /** worker_threads' threadId of the thread. */
  readonly threadId: number;
  /** The thread's id in the pool. */
  readonly workerId: number;
  /** Keeps the process alive while this thread lives (piscina: `pool.threads[i].ref()`). */
  ref(): void;
  /** Undoes ref(). */
  unref(): void;
}

const NO_RUN_OPTIONS: PiscinaRunOptions = Object.freeze({});
const TASK = 'Piscina.Task';

/**
 * A pool of worker threads with piscina's interface: `new Piscina({ filename })`, `run(task)`,
 * `close()`, `destroy()`; events 'drain', 'needsDrain', 'error', 'workerCreate',
 * 'workerDestroy'. Runs on iocp-pool's ThreadPool.
 */
// biome-ignore lint/suspicious/noExplicitAny: piscina's defaults: an untyped pool's run() takes and gives any, so code written for piscina compiles unchanged.
export class Piscina<T = any, R = any> extends EventEmitterAsyncResource {
  readonly #pool: ThreadPool;
  readonly #options: FilledPiscinaOptions;
  /** Tasks a ThreadPool holds at once in piscina's model: maxThreads × concurrentTasksPerWorker. */
  readonly #capacity: number;
  readonly #queue: TaskQueue | undefined;
  readonly #start = performance.now();
  readonly #utilization: Utilization;
  /** run() tasks handed to the ThreadPool and not settled. */
  #inFlight = 0;
  #completed = 0;
  #closing = false;
  #closed: Promise<void> | undefined;

  /** Checks the options (piscina's TypeErrors) and starts the ThreadPool. */
  constructor(options: PiscinaOptions = {}) {
    super({ name: 'Piscina' });
    const o = (this.#options = fillOptions(options));
    this.#capacity = Math.ceil(o.maxThreads) * o.concurrentTasksPerWorker;
    this.#queue = options.taskQueue;
    this.#utilization = new Utilization(this.#start);
    const data: ShimData = { filename: o.filename, name: o.name, niceIncrement: o.niceIncrement, workerData: o.workerData };
    const pool = (this.#pool = new ThreadPool({
      filename: shimFilename(),
      threads: Math.ceil(o.maxThreads),
      minThreads: Math.min(Math.ceil(o.minThreads), Math.ceil(o.maxThreads)),
      // piscina runs every thread at once: no cap below the thread count.
      concurrency: Math.ceil(o.maxThreads),
      // piscina's per-worker task limit: a thread holds at most this many tasks at once.
      concurrentTasksPerThread: o.concurrentTasksPerWorker,
      idleTimeout: o.idleTimeout,
      workerData: data,
      trackUnmanagedFds: o.trackUnmanagedFds,
      ...(o.resourceLimits !== undefined && { resourceLimits: o.resourceLimits }),
      ...(o.env !== undefined && { env: o.env as Record<string, string> }),
      ...(o.argv !== undefined && { argv: o.argv }),
      ...(o.execArgv !== undefined && { execArgv: o.execArgv }),
    }));
    // A thread that died of an uncaught error: piscina's 'error' event carries that error itself.
    pool.on('error', (error: unknown) => {
      const e = error as (Error & { cause?: unknown }) | null;
      this.emit('error', e?.name === 'WorkerDiedError' && e.cause instanceof Error ? e.cause : error);
    });
    // The threads as pool.threadInfo() lists them: the same object in 'workerCreate', 'workerDestroy' and `threads`.
    const known = new Map<number, PiscinaThread>();
    pool.on('threadStart', ({ workerId }: { workerId: number }) => {
      const thread = pool.threadInfo().find((t) => t.workerId === workerId);
      if (thread === undefined) return;
      known.set(workerId, thread);
      this.emit('workerCreate', thread);
    });
    pool.on('threadExit', ({ workerId }: { workerId: number }) => {
      const thread = known.get(workerId);
      known.delete(workerId);
      if (thread !== undefined) this.emit('workerDestroy', thread);
    });
    // What a handler posts on parentPort itself.
    pool.on('message', (message: unknown) => this.emit('message', message));
  }

  /**
   * Runs `task` on a thread: the handler (the module's default export, or `options.name`) is
   * called with the task alone; resolves with what it returns, rejects with what it throws.
   */
  run(task: T, options: PiscinaRunOptions = NO_RUN_OPTIONS): Promise<R> {
    if (options === NO_RUN_OPTIONS && this.#queue === undefined && !isMovable(task)) return this.#runPlain(task);
    const args = runArguments(options);
    return args instanceof TypeError ? Promise.reject(args) : this.#runWith(task, args);
  }

  /**
   * piscina 3's form of run(): `runTask(task, transferList?, filename?, signal?)`, each argument
   * optional (a string is the filename, an object that is not an array the signal).
   * @deprecated Use run(task, options).
   */
  runTask(task: T, transferList?: unknown, filename?: unknown, signal?: unknown): Promise<R> {
    const args = runTaskArguments(transferList, filename, signal);
    return args instanceof TypeError ? Promise.reject(args) : this.#runWith(task, args);
  }

  /** The hot path: the default module and export, no options, no custom queue. */
  #runPlain(task: T): Promise<R> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    this.#entered();
    const resource = new AsyncResource(TASK, { triggerAsyncId: this.asyncId, requireManualDestroy: false });
    // The pool's own promise, chained once: no second promise and executor per task. The caller's
    // continuation runs in its own async context either way (a reaction's context is the one
    // current when it was attached); the task's resource scopes the settlement, as piscina's does.
    return this.#pool.run(task as never).then(
      (value) => {
        this.#settled();
        return resource.runInAsyncScope(same, undefined, value) as R;
      },
      (error: unknown) => {
        this.#settled();
        return resource.runInAsyncScope(rethrow, undefined, translate(error));
      },
    );
  }

  #runWith(task: unknown, { transferList, filename: file, name, signal }: RunArguments): Promise<R> {
    if (this.#closing) return Promise.reject(new AbortError('queue is closing up'));
    const filename = file === null ? this.#options.filename : toPath(file);
    if (filename === null) return Promise.reject(Errors.filenameNotProvided());
    if (signal !== null && isAborted(signal)) return Promise.reject(new AbortError(reasonOf(signal)));
    let transfers = transferList;
    if (isMovable(task)) {
      const list: TransferListItem[] = transferList === undefined ? [] : [...transferList];
      task = unwrapMoved(task, list);
      transfers = list;
    }
    const handler = name ?? this.#options.name;
    // What a custom queue sees as the task (its queue options): the value, before any envelope.
    const value = task;
    const core: CoreRunOptions = {};
    if (filename !== this.#options.filename || handler !== this.#options.name) {
      task = [filename, handler, task];
      core.name = DISPATCH;
    }
    if (transfers !== undefined) core.transferList = transfers;
    const resource = new AsyncResource(TASK, { triggerAsyncId: this.asyncId, requireManualDestroy: false });
    return new Promise<R>((resolve, reject) => {
      let done = false;
      let queued: QueuedTask | undefined;
      let forget = (): void => {};
      const finish = (ok: boolean, value: unknown): void => {
        if (done) return;
        done = true;
        forget();
        resource.runInAsyncScope(ok ? resolve : reject, undefined, value);
      };
      const submit = (): void => {
        queued = undefined;
        this.#entered();
        this.#pool.run(task, core).then(
          (value) => {
            this.#settled();
            finish(true, value);
          },
          (error: unknown) => {
            this.#settled();
            finish(false, translate(error));
          },
        );
      };
      if (signal !== null) {
        const controller = new AbortController();
        core.signal = controller.signal;
        forget = onAbort(signal, () => {
          const reason = reasonOf(signal);
          if (queued !== undefined) this.#queue?.remove(queued);
          // Rejected at once, running or not: a handler still running is left to finish (see docs/migrating-from-piscina.md).
          finish(false, new AbortError(reason));
          controller.abort(reason);
        });
      }
      const refused = this.#refusal();
      if (refused !== undefined) return finish(false, refused);
      if (this.#queue !== undefined && (this.#inFlight >= this.#capacity || this.#queue.size > 0)) {
        queued = new QueuedTask(value, filename, handler, signal !== null, submit, (error) => finish(false, error));
        this.#queue.push(queued);
        this.#maybeNeedsDrain();
      } else {
        submit();
      }
    });
  }

  /** Why run() is refused now (closing, a full queue), or undefined. */
  #refusal(): Error | undefined {
    if (this.#closing) return new AbortError('queue is closing up');
    const { maxQueue } = this.#options;
    if (maxQueue === Infinity) return undefined;
    // Refused only a task that would wait: one a thread is free for always goes (maxQueue 0 too).
    if (this.#inFlight >= this.#capacity && this.queueSize >= maxQueue)
      return maxQueue === 0 ? Errors.noTaskQueueAvailable() : Errors.taskQueueAtLimit();
    return undefined;
  }

  #entered(): void {
    this.#inFlight++;
    if (this.listenerCount('drain') > 0 || this.listenerCount('needsDrain') > 0) this.#maybeNeedsDrain();
  }

  #settled(): void {
    this.#inFlight--;
    this.#completed++;
    const queue = this.#queue;
    if (queue !== undefined && queue.size > 0 && !this.#closing) (queue.shift() as QueuedTask | null)?.submit();
    if (this.listenerCount('drain') > 0 && this.queueSize === 0) this.emit('drain');
  }

  /** 'drain' when nothing waits; 'needsDrain' when maxQueue tasks wait. */
  #maybeNeedsDrain(): void {
    const waiting = this.queueSize;
    if (waiting === 0) this.emit('drain');
    if (waiting >= this.#options.maxQueue) this.emit('needsDrain');
  }

  /**
   * Waits for the running and queued tasks (with `force`: rejects the queued ones with an
   * AbortError), then stops the threads. Past closeTimeout ms it emits an 'error' and destroys.
   */
  close(options: PiscinaCloseOptions = {}): Promise<void> {
    if (options === null || typeof options !== 'object') return Promise.reject(new TypeError('options must be an object'));
    if (options.force !== undefined && typeof options.force !== 'boolean') return Promise.reject(new TypeError('force argument must be a boolean'));
    if (this.#closed !== undefined) return this.#closed;
    this.#closing = true;
    if (options.force === true && this.#queue !== undefined) {
      for (let t = this.#queue.shift(); t !== null; t = this.#queue.shift()) (t as QueuedTask).fail(new AbortError('pool is closed'));
    }
    return (this.#closed = this.#closeWithin(this.#options.closeTimeout, options.force === true));
  }

  async #closeWithin(ms: number, force: boolean): Promise<void> {
    // A custom queue's tasks go to the pool as places free up: wait for them before closing it.
    // (With force, close() emptied the queue.)
    while (this.#queue !== undefined && this.#queue.size > 0) (this.#queue.shift() as QueuedTask).submit();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<true>((resolve) => (timer = setTimeout(resolve, ms, true)));
    try {
      // force: the pool rejects the tasks it holds that have not started (translate() makes them piscina's AbortError).
      if ((await Promise.race([this.#pool.close({ force }), timedOut])) === true) {
        this.emit('error', Errors.closeTimeout());
        await this.#pool.destroy();
      }
    } finally {
      clearTimeout(timer);
      this.emit('close');
    }
  }

  /** Stops every thread at once: tasks not finished reject ('Terminating worker thread'). */
  async destroy(): Promise<void> {
    this.#closing = true;
    if (this.#queue !== undefined) {
      for (let t = this.#queue.shift(); t !== null; t = this.#queue.shift()) (t as QueuedTask).fail(Errors.threadTermination());
    }
    await this.#pool.destroy();
  }

  /** The ThreadPool's stats(); its utilization interval is accumulated here. */
  #stats(): ThreadPoolStats {
    const stats = this.#pool.stats();
    this.#utilization.add(stats);
    return stats;
  }

  /** The options the pool runs with, every default filled in. */
  get options(): FilledPiscinaOptions {
    return this.#options;
  }
  /** Threads at most. */
  get maxThreads(): number {
    return this.#options.maxThreads;
  }
  /** Threads kept when idle. */
  get minThreads(): number {
    return this.#options.minThreads;
  }
  /** The threads alive, those still starting included (minThreads of them right after the constructor). */
  get threads(): PiscinaThread[] {
    return this.#pool.threadInfo();
  }
  /** Tasks waiting for a thread: beyond maxThreads × concurrentTasksPerWorker in flight, and those in a custom queue. */
  get queueSize(): number {
    return Math.max(this.#inFlight - this.#capacity, 0) + (this.#queue?.size ?? 0);
  }
  /** Tasks settled (resolved or rejected). */
  get completed(): number {
    return this.#completed;
  }
  /** Milliseconds since the pool was created. */
  get duration(): number {
    return performance.now() - this.#start;
  }
  /** Milliseconds handlers ran (sampled), or null with recordTiming: false. */
  get runTime(): TimingSummary | null {
    return this.#options.recordTiming ? summary(this.#pool.histograms().runTime) : null;
  }
  /** Milliseconds tasks waited for a thread (sampled), or null with recordTiming: false. */
  get waitTime(): TimingSummary | null {
    return this.#options.recordTiming ? summary(this.#pool.histograms().waitTime) : null;
  }
  /** The fraction of maxThreads × duration the threads spent in handlers (0 with recordTiming: false). */
  get utilization(): number {
    if (!this.#options.recordTiming) return 0;
    this.#stats();
    return this.#utilization.value(this.duration, this.#options.maxThreads);
  }
  /** True while maxQueue tasks (or more) wait: feed the pool again on 'drain'. */
  get needsDrain(): boolean {
    return this.queueSize >= this.#options.maxQueue;
  }

  /** True inside a pool thread. */
  static get isWorkerThread(): boolean {
    return workerState() !== undefined;
  }
  /** Inside a pool thread, the pool's `workerData` option; else undefined. */
  static get workerData(): unknown {
    return workerState()?.workerData;
  }
  /** The version of the package that provides this class (iocp-pool's). */
  static get version(): string {
    return __IOCP_POOL_VERSION__;
  }
  /** The class itself: `const { Piscina } = require(…)` and `require(…).Piscina` both work. */
  static get Piscina(): typeof Piscina {
    return Piscina;
  }
  /** The FIFO queue piscina uses by default, for a custom taskQueue to extend or wrap. */
  static get ArrayTaskQueue(): typeof ArrayTaskQueue {
    return ArrayTaskQueue;
  }
  /** See move(). */
  static move = move;
  /** The key of a Transferable's transfer-list item. */
  static get transferableSymbol(): typeof transferableSymbol {
    return transferableSymbol;
  }
  /** The key of a Transferable's value. */
  static get valueSymbol(): typeof valueSymbol {
    return valueSymbol;
  }
  /** The key of a task's options for a custom task queue. */
  static get queueOptionsSymbol(): typeof queueOptionsSymbol {
    return queueOptionsSymbol;
  }
}

/** A settled value, returned from inside a task's async scope. */
function same(value: unknown): unknown {
  return value;
}

/** A task's error, thrown from inside its async scope. */
function rethrow(error: unknown): never {
  throw error;
}
