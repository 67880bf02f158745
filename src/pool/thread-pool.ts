/**
 * ThreadPool — the CThreadPools class of the original articles
 * (docs/background.md) on a CompletionPort, with a promise-based task API.
 *
 *   CThreadPools::Init          new ThreadPool()      threads loop on port.get()
 *   CThreadPools::QueueRequest  queueRequest(wParam)  port.post(0, wParam, 0)
 *   CThreadPools::Close         close()               one sentinel (overlapped -1) per thread
 *
 * The run() hot path never calls postMessage: the task is written into a
 * slot of the pool's shared arena (layout.ts, codec/slot-codec.ts, main/tasks.ts) and the
 * slot's index is posted on the task port; the worker writes the result into
 * the same slot and posts the index on the result port, which this thread
 * drains in batches (main/results.ts) and resolves many promises per wake-up. Per
 * task the main thread allocates the promise, nothing else.
 *
 * This file is the public face and wires the parts: main/parts.ts makes them —
 * main/tasks.ts (slots and backlog), main/results.ts (the result loop),
 * main/threads.ts (starting and hearing threads) — and main/lifecycle.ts (close,
 * destroy, what a thread's exit means) drives them; main/pool-events.ts turns what
 * the threads say into the pool's events, main/pool-stats.ts gathers stats().
 * It decides what run() (its options read by main/run-options.ts) and
 * queueRequest() accept and when the pool keeps the process alive.
 */
import { EventEmitter } from 'node:events';
import type { CompletionPort } from '../port/index.js';
import type { Serialization } from '../codec/serialization.js';
import { broadcastOptionsError, type CloseOptions, type RunOptions, runOptionsError } from './call-options.js';
import { PoolClosedError, QueueFullError } from './errors.js';
import type { HeapKeeper } from './main/heap-keeper.js';
import type { KeepAlive } from './main/keep-alive.js';
import { Lifecycle, State } from './main/lifecycle.js';
import { makeParts, type PoolParts } from './main/parts.js';
import { PoolReports, threadEvents } from './main/pool-events.js';
import { poolStats } from './main/pool-stats.js';
import type { ResultDrain } from './main/results.js';
import { type HandlerScope, handlerIndex, taskExtras } from './main/run-options.js';
import type { TaskExtras, TaskTable } from './main/tasks.js';
import { LEFT, type ThreadSet } from './main/threads.js';
import { resolveOptions, type ThreadPoolOptions, type ThreadPoolStats } from './options.js';
import { checkWParam, postRequest } from './requests.js';
import { type RunTraceContext, runChannel } from './tracing.js';
import type { Infer, PoolEvents, PoolHistograms, PoolThread, PoolTypes, RunName, RunResult, RunTask } from './types.js';

/**
 * The pool's events, typed (see PoolEvents): an interface merged with the class below, whose type
 * parameters it must repeat. Unknown events keep EventEmitter's untyped signature.
 */
// biome-ignore-start lint/suspicious/noExplicitAny: EventEmitter's own listener type, for events PoolEvents does not list.
// biome-ignore lint/correctness/noUnusedVariables: a merged declaration repeats the class's type parameters.
export interface ThreadPool<T, R> {
  /** Adds a listener for a pool event; PoolEvents lists each event's arguments. */
  on<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this;
  /** Adds a listener for any other event (EventEmitter's signature). */
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  /** Adds a one-time listener for a pool event; PoolEvents lists each event's arguments. */
  once<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this;
  /** Adds a one-time listener for any other event. */
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  /** Removes a listener of a pool event (as removeListener). */
  off<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this;
  /** Removes a listener of any other event. */
  off(event: string | symbol, listener: (...args: any[]) => void): this;
  /** Adds a listener for a pool event (as on). */
  addListener<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this;
  /** Adds a listener for any other event (as on). */
  addListener(event: string | symbol, listener: (...args: any[]) => void): this;
  /** Removes a listener of a pool event. */
  removeListener<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this;
  /** Removes a listener of any other event. */
  removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
}
// biome-ignore-end lint/suspicious/noExplicitAny: EventEmitter's own listener type.

/**
 * A pool of worker threads on a completion port.
 *
 * Type arguments: `ThreadPool<typeof import('./worker.js')>` reads the worker
 * module's exports, so run() takes and resolves to what each handler does;
 * `ThreadPool<Task, Result>` declares them by hand; none: `unknown`. Guide:
 * docs/pool.md.
 *
 * @typeParam T - The worker module's type (`typeof import('./worker.js')`), or the task type.
 * @typeParam R - The result type, when `T` is the task type; left out, it is read from `T`.
 *
 * @group The pool
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface above only types EventEmitter's methods; it adds no member.
export class ThreadPool<T = unknown, R = Infer> extends EventEmitter {
  /** Threads in the pool at most (the `threads` option, resolved). */
  readonly threads: number;
  /** Threads kept when idle (the `minThreads` option, resolved). */
  readonly minThreads: number;
  /** The task port's cap on running threads (the `concurrency` option, resolved). */
  readonly concurrency: number;
  /** run() tasks that may wait to start (the `maxQueue` option, resolved; Infinity when unbounded). */
  readonly maxQueue: number;
  /** How tasks and results are encoded: 'structured' (the structured clone) or 'json'. */
  readonly serialization: Serialization;
  /**
   * Types only, never set: the tasks, results and handler names of this pool, for adapters that
   * take a pool and type what they give it (createWorker of iocp-pool/bullmq types its jobs by
   * it). A string key, so that it matches structurally across copies of the declarations.
   * @internal
   */
  declare readonly '~types'?: PoolTypes<T, R>;

  /** Every part, for what is not on a hot path (stats(), run()'s handler lookup); those that are also have a field of their own. */
  readonly #parts: PoolParts;
  readonly #taskPort: CompletionPort;
  readonly #i32: Int32Array;
  readonly #queueCapacity: number;
  readonly #heap: HeapKeeper;
  readonly #threads: ThreadSet;
  readonly #tasks: TaskTable;
  readonly #keepAlive: KeepAlive;
  readonly #results: ResultDrain;
  readonly #life: Lifecycle;
  /** needsDrain at or above this many queued run() tasks: maxQueue, or threads² without one. */
  readonly #drainAt: number;
  #drainNeeded = false;
  /** The errors nobody asked for ('error', else a process warning), and the count of failed queueRequest handlers. */
  readonly #reports = new PoolReports(this);
  /** What run()'s handler lookup needs (main/run-options.ts); its `defaultName` also names a traced run() that names none. */
  readonly #scope: HandlerScope;

  constructor(options: ThreadPoolOptions) {
    super();
    const o = resolveOptions(options);
    this.threads = o.threads;
    this.minThreads = o.minThreads;
    this.concurrency = o.concurrency;
    this.maxQueue = o.maxQueue;
    this.serialization = o.serialization;
    this.#drainAt = o.maxQueue !== Infinity ? o.maxQueue : o.threads * o.threads;
    this.#queueCapacity = o.queueCapacity;
    // The shared memory and the parts on it (main/parts.ts): made here, wired below.
    const parts = (this.#parts = makeParts(o, options.workerData));
    const { heap, threads, results, keepAlive } = parts;
    this.#taskPort = parts.taskPort;
    this.#i32 = parts.i32;
    this.#heap = heap;
    this.#threads = threads;
    this.#tasks = parts.tasks;
    this.#keepAlive = keepAlive;
    this.#results = results;
    this.#scope = { names: parts.names, filename: o.filename, defaultName: o.name };
    this.#life = new Lifecycle(parts, {
      report: (error, code) => this.#reports.report(error, code),
      exited: (record, reason, code) => this.emit('threadExit', { threadId: record.threadId, workerId: record.id, reason, code }),
      pump: () => this.#pump(),
    });

    // What the parts tell the pool: events that fire only from here on.
    heap.askThreadsWith(() => threads.heapRelease());
    results.listen({ afterBatch: () => this.#pump(), idle: () => keepAlive.armIdle(), corrupt: (error) => this.emit('error', error) });
    const host = { life: this.#life, tasks: this.#tasks, workerOptions: o.workerOptions, reports: this.#reports };
    threads.listen(threadEvents(this, { ...host, run: (task, options) => this.#run(task, options) }));

    // The threads.
    this.#life.start();
  }

  /**
   * Resolves when the pool's initial threads — `minThreads` of them, at least one — have loaded the
   * worker module (and run its setup()); rejects with a WorkerLoadError if it cannot be used.
   */
  get ready(): Promise<void> {
    return this.#life.ready;
  }

  /**
   * The pool's threads alive now, those still loading the worker module included (`ready` false):
   * known as soon as they are started, so right after `new ThreadPool()` there are `minThreads` of
   * them (at least one).
   */
  threadInfo(): PoolThread[] {
    return this.#threads.list();
  }

  /** The port the threads loop on (post to it to talk IOCP directly). */
  get port(): CompletionPort {
    return this.#taskPort;
  }

  // ─────────────────────────── queueRequest ───────────────────────────

  /**
   * CThreadPools::QueueRequest: PostQueuedCompletionStatus(port, 0, wParam, NULL).
   * A thread calls the handler with wParam. Returns false when the queue is
   * full or the pool is closed. The handler's errors go to the 'error' event.
   */
  queueRequest(wParam: number): boolean {
    checkWParam(wParam);
    if (!this.#life.accepting) return false;
    if (!postRequest(this.#taskPort, this.#i32, this.#queueCapacity, wParam)) return false;
    if (!this.#keepAlive.refed) this.#keepAlive.refAll();
    if (this.#threads.size < this.threads) this.#life.grow();
    return true;
  }

  // ──────────────────────────────── run ────────────────────────────────

  /**
   * Runs task on a pool thread: calls the worker module's export `options.name` (default: the
   * pool's `name` option, else the default export); resolves with what it returns, rejects with
   * what it throws (or a TimeoutError past `options.timeout`). On a pool typed with its module
   * (`ThreadPool<typeof import('./worker.js')>`), `task` is that handler's first parameter and the
   * result its awaited return type; on one typed by hand, `T` and `R`; else `unknown`.
   */
  run<N extends RunName<T, R> = never>(task: RunTask<T, R, N>, options?: RunOptions<N>): Promise<RunResult<T, R, N>> {
    // Traced only while someone listens (see tracing.ts): else no context, no extra promise.
    if (!runChannel.hasSubscribers) return this.#run(task, options) as Promise<RunResult<T, R, N>>;
    return this.#traced(task, options) as Promise<RunResult<T, R, N>>;
  }

  #traced(task: unknown, options: RunOptions | undefined): Promise<unknown> {
    const name = (options !== null && typeof options === 'object' ? options.name : undefined) ?? this.#scope.defaultName ?? 'default';
    const context: RunTraceContext = { pool: this, task, name };
    return runChannel.tracePromise(() => this.#run(task, options), context);
  }

  #run(task: unknown, options: RunOptions | undefined): Promise<unknown> {
    const refused = this.#refused('run()');
    if (refused !== undefined) return Promise.reject(refused);
    let signal: AbortSignal | undefined;
    let transferList: RunOptions['transferList'];
    let handler = 0;
    let extras: TaskExtras | undefined;
    if (options !== undefined) {
      // Checked before anything is taken (a slot, a backlog place): a bad option leaks nothing.
      const bad = runOptionsError(options);
      if (bad !== undefined) return Promise.reject(bad);
      signal = options.signal;
      transferList = options.transferList;
      const index = handlerIndex(options, this.#scope);
      if (typeof index !== 'number') return Promise.reject(index);
      handler = index;
      extras = taskExtras(options);
    }
    const queued = this.#tasks.queued();
    if (queued >= this.maxQueue) return Promise.reject(new QueueFullError(this.maxQueue));
    if (queued + 1 >= this.#drainAt) this.#drainNeeded = true;
    if (!this.#keepAlive.refed) this.#keepAlive.refAll();
    const settled = this.#tasks.add(task, handler, signal, transferList, extras);
    if (this.#threads.size < this.threads) this.#life.grow();
    if (this.#tasks.inflight > 0) this.#results.start();
    return settled;
  }

  /** Why the pool takes no more work (closed, destroyed, a module that cannot be used), or undefined. */
  #refused(what: string): Error | undefined {
    const state = this.#life.state;
    if (state !== State.Open)
      return new PoolClosedError(`${what} after ${state === State.Closing ? 'close()' : 'destroy()'}: the pool takes no more tasks`);
    return this.#life.loadError;
  }

  /** Slots were freed: move the backlog in; once it is empty, a close() can post its sentinels; maybe 'drain'. */
  #pump(): void {
    const state = this.#life.state;
    if (state === State.Destroyed) return;
    this.#tasks.pump();
    if (this.#tasks.inflight > 0) this.#results.start();
    if (state === State.Closing) this.#life.postSentinels();
    if (this.#drainNeeded && this.#tasks.queued() < this.#drainAt) {
      this.#drainNeeded = false;
      this.emit('drain');
    }
  }

  /**
   * Backpressure: true while the run() tasks waiting to start are at or above maxQueue (with no
   * maxQueue: threads²). A 'drain' event follows when it goes back to false.
   */
  get needsDrain(): boolean {
    return this.#tasks.queued() >= this.#drainAt;
  }

  // ──────────────────────── broadcast / recycle ────────────────────────

  /**
   * Runs the handler (`name`, or the default) once on every live thread — to warm caches, reload
   * configuration — outside the port's queue, as soon as each thread's event loop turns. Resolves
   * with the results (one per thread, in no particular order); rejects with the first error. A
   * thread that leaves before it ran it is left out; one that dies rejects the broadcast.
   */
  async broadcast(task: unknown, options?: { name?: string }): Promise<unknown[]> {
    const refused = this.#refused('broadcast()');
    if (refused !== undefined) throw refused;
    const bad = broadcastOptionsError(options);
    if (bad !== undefined) throw bad;
    const name = options?.name;
    this.#keepAlive.refAll();
    const results = await Promise.all(this.#threads.broadcast(task, name));
    return results.filter((result) => result !== LEFT);
  }

  /**
   * Replaces every thread, gracefully: each finishes what it is running, runs the module's
   * teardown(), leaves, and a new thread (setup() again) takes its place. Resolves once every
   * thread alive at the call has left and its replacement is ready.
   */
  async recycle(): Promise<void> {
    const refused = this.#refused('recycle()');
    if (refused !== undefined) throw refused;
    this.#keepAlive.refAll();
    const old = this.#threads.recycle();
    await Promise.all(old.map((record) => new Promise<void>((resolve) => record.worker.once('exit', () => resolve()))));
    await Promise.all(old.map((record) => record.replacement?.ready));
  }

  // ──────────────────────── shared memory: alloc / free ────────────────────────

  /**
   * A Uint8Array of byteLength bytes in the pool's shared heap (not zeroed) that crosses by
   * reference in tasks and results. A RangeError above heap.maxBlockBytes or with the heap full.
   *
   * Its `buffer` is the whole heap segment the block lives in: other alloc() views and the
   * payloads of other tasks in flight share it, and writing outside the view's own bytes corrupts
   * them. Use only `byteOffset … byteOffset + byteLength` (docs/pool.md, "alloc() and free()").
   */
  alloc(byteLength: number): Uint8Array {
    return this.#heap.alloc(byteLength);
  }

  /**
   * Gives back a view from alloc() (here or in a thread): exactly such a view — its block, from
   * its first byte, with the byteLength alloc() was asked for (any view type). Twice, a subarray,
   * another length or block, or a foreign view: a TypeError.
   */
  free(view: ArrayBufferView): void {
    this.#heap.free(view);
  }

  // ───────────────────────── close / destroy ─────────────────────────

  /**
   * CThreadPools::Close: one sentinel per thread, posted after everything
   * already queued (so all of it completes); resolves when every thread
   * has exited and the ports are closed.
   *
   * With `{ timeout }` (ms): graceful until then; what is still running or
   * queued when it passes is stopped as destroy() stops it — its run()
   * rejects with a PoolClosedError that says the deadline passed, its thread
   * is terminated — and close() resolves once the threads are gone. A later
   * close({ timeout }) can only bring the deadline closer.
   *
   * With `{ force: true }`: the tasks not started yet reject at once with a PoolClosedError
   * (they never run); those running finish.
   */
  close(options?: CloseOptions): Promise<void> {
    const closing = this.#life.close(options);
    // Checked by close() above: a bad option has rejected it, and forces nothing.
    if (options?.force === true && this.#life.state === State.Closing) {
      this.#tasks.cancelQueued(() => new PoolClosedError('close({ force: true }) before this task started: it did not run'));
      this.#pump();
    }
    return closing;
  }

  /** `await using pool = new ThreadPool(…)`: the same as close(). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Stops at once: every pending run() rejects, the threads are terminated; resolves when they are gone. */
  destroy(): Promise<void> {
    return this.#life.destroy();
  }

  // ─────────────────────────────── stats ───────────────────────────────

  /**
   * The sampled run and wait times (those stats() reports percentiles of) as perf_hooks
   * histograms, in microseconds, every sample since the pool started: `mean`, `stddev`, `min`,
   * `max`, `percentile(p)`, `count`. The same two live objects on every call.
   */
  histograms(): PoolHistograms {
    return { runTime: this.#results.runTime.histogram, waitTime: this.#results.waitTime.histogram };
  }

  /** Counters, timings and utilization (utilization over the time since the previous call). */
  stats(): ThreadPoolStats {
    return poolStats(this.#parts, this.#reports.requestFailed);
  }
}
