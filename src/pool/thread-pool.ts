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
 * This file is the public face and wires the parts: main/tasks.ts (slots and
 * backlog), main/results.ts (the result loop), main/threads.ts (starting and hearing
 * threads), main/lifecycle.ts (close, destroy, what a thread's exit means). It
 * decides what run() and queueRequest() accept and when the pool keeps the
 * process alive.
 */
import { AsyncResource } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { CompletionPort } from '../port/index.js';
import { PoolClosedError, QueueFullError, WorkerLoadError } from './errors.js';
import { HeapKeeper } from './main/heap-keeper.js';
import { KeepAlive } from './main/keep-alive.js';
import { A_MAGIC, A_MIN, A_REQUESTS, A_SLOT_BYTES, A_SLOTS, ARENA_MAGIC, arenaGeometry } from './layout.js';
import { Lifecycle, State } from './main/lifecycle.js';
import { HandlerNames, otherModuleKey } from './names.js';
import { checkWParam, postRequest } from './requests.js';
import { broadcastOptionsError, type CloseOptions, type RunOptions, runOptionsError } from './call-options.js';
import { resolveOptions, toFileUrl, type ThreadPoolOptions, type ThreadPoolStats } from './options.js';
import type { Serialization } from '../codec/serialization.js';
import { SlotCodec } from '../codec/slot-codec.js';
import { ResultDrain } from './main/results.js';
import { type TaskExtras, TaskTable } from './main/tasks.js';
import { LEFT, type ThreadEvents, ThreadSet } from './main/threads.js';
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

  readonly #taskPort: CompletionPort;
  readonly #i32: Int32Array;
  readonly #queueCapacity: number;
  readonly #heap: HeapKeeper;
  readonly #names: HandlerNames;
  readonly #threads: ThreadSet;
  readonly #tasks: TaskTable;
  readonly #keepAlive: KeepAlive;
  readonly #results: ResultDrain;
  readonly #life: Lifecycle;
  /** needsDrain at or above this many queued run() tasks: maxQueue, or threads² without one. */
  readonly #drainAt: number;
  #drainNeeded = false;
  /** queueRequest handlers that failed (A_REQUESTS counts them among the handled). */
  #requestFailed = 0;
  /** The pool's `name` option (the tracing channel's name for a run() that names none). */
  readonly #defaultName: string | undefined;
  /** The worker module's file: URL (a run() whose `filename` is another module names it by key). */
  readonly #filename: string;

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
    this.#defaultName = o.name;
    this.#filename = o.filename;
    const { slots, backend } = o;

    // 1. Shared memory. The task port holds every slot's packet plus the queueRequest packets and
    // sentinels. The result port has one consumer (this thread) and one packet per slot at most,
    // plus one a dead thread may leave stale (layout.ts A7), so a post never finds it full;
    // rounded up to a power of two (the ring's size anyway: a ring whose capacity is its size
    // skips the bound check on each post). maxThreads: every pool thread posts to it, and a
    // poster with a claim record of its own costs a death nothing more than its claim.
    const taskPort = (this.#taskPort = new CompletionPort({
      concurrency: this.concurrency,
      capacity: o.queueCapacity + slots,
      maxThreads: 2 * this.threads + 16,
      backend,
    }));
    const resultCapacity = 2 ** Math.ceil(Math.log2(slots + 1));
    const resultPort = new CompletionPort({ concurrency: 1, capacity: resultCapacity, maxThreads: this.threads + 8, spinCount: 0, backend });
    // Tasks and results too large for a slot go into the shared heap.
    const heap = (this.#heap = new HeapKeeper(o.heap));
    const geo = arenaGeometry(slots, o.slotBytes);
    const arena = new SlotCodec(new SharedArrayBuffer(geo.byteLength), slots, geo.slotBytes, heap.heap, o.serialization);
    this.#names = new HandlerNames(arena.buffer, geo);
    const i32 = (this.#i32 = arena.i32);
    i32[A_MAGIC] = ARENA_MAGIC;
    i32[A_SLOTS] = slots;
    i32[A_SLOT_BYTES] = geo.slotBytes;
    i32[A_MIN] = this.minThreads;

    // 2. The parts, each given the parts it uses, all created before it.
    const threads = (this.#threads = new ThreadSet(
      {
        __iocpPool: true,
        filename: o.filename,
        defaultName: o.name,
        taskPort: taskPort.handle,
        resultPort: resultPort.handle,
        arena: arena.buffer,
        slots,
        slotBytes: geo.slotBytes,
        heap: heap.heap?.handle,
        serialization: o.serialization,
        spinCount: o.spinCount,
        idleTimeout: this.minThreads < this.threads ? o.idleTimeout : Infinity,
        flushStdout: o.workerOptions.stdout !== true,
        flushStderr: o.workerOptions.stderr !== true,
        queueCapacity: o.queueCapacity,
        maxTasksPerThread: o.maxTasksPerThread,
        maxHeapUsedBeforeRecycle: o.maxHeapUsedBeforeRecycle,
        concurrentTasksPerThread: o.concurrentTasksPerThread,
        workerData: options.workerData,
      },
      o.workerOptions,
      heap,
    ));
    const tasks = (this.#tasks = new TaskTable(arena, taskPort, threads, this.concurrency));
    const keepAlive = (this.#keepAlive = new KeepAlive({ i32, taskPort, tasks, threads }));
    const results = (this.#results = new ResultDrain(resultPort, tasks, threads, this.concurrency));
    const parts = {
      filename: o.filename,
      size: this.threads,
      minThreads: this.minThreads,
      i32,
      taskPort,
      resultPort,
      tasks,
      results,
      threads,
      heap,
      keepAlive,
    };
    this.#life = new Lifecycle(parts, {
      report: (error, code) => this.#report(error, code),
      exited: (record, reason, code) => this.emit('threadExit', { threadId: record.threadId, workerId: record.id, reason, code }),
      pump: () => this.#pump(),
    });

    // 3. What the parts tell the pool: events that fire only from here on.
    heap.askThreadsWith(() => threads.heapRelease());
    results.listen({ afterBatch: () => this.#pump(), idle: () => keepAlive.armIdle(), corrupt: (error) => this.emit('error', error) });
    threads.listen(this.#threadEvents(o.workerOptions));

    // 4. The threads.
    this.#life.start();
  }

  /** What the pool does with what its threads say (main/threads.ts ThreadEvents). */
  #threadEvents(workerOptions: { stdout?: boolean; stderr?: boolean }): ThreadEvents {
    return {
      ready: (record) => {
        this.#life.threadReady();
        const { worker } = record;
        this.emit('threadStart', {
          threadId: record.threadId,
          workerId: record.id,
          stdout: workerOptions.stdout ? worker.stdout : null,
          stderr: workerOptions.stderr ? worker.stderr : null,
        });
      },
      loadError: (record, cause, setup) => this.#life.loadFailed(record, new WorkerLoadError(cause?.message ?? String(cause), cause), setup),
      requestError: (wParam, error) => this.#requestError(wParam, error),
      message: (record, value) => this.emit('message', value, { threadId: record.threadId, workerId: record.id }),
      teardownError: (_, error) =>
        this.#report(
          Object.assign(new Error(`a pool thread's teardown() failed: ${(error as Error)?.message ?? String(error)}`), { cause: error }),
          'IOCP_POOL_TEARDOWN_ERROR',
        ),
      run: (task, signal) => this.#run(task, signal === undefined ? undefined : { signal }),
      payload: (slot) => this.#tasks.takeFallback(slot),
      progress: (slot, ticket, value) => this.#tasks.progress(slot, ticket, value),
      exit: (record, code) => this.#life.onExit(record, code),
    };
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

  #requestError(wParam: number, error: unknown): void {
    this.#requestFailed++;
    if (this.listenerCount('error') > 0) {
      this.emit('error', error, wParam);
    } else {
      // Never lost, never a silent crash: with no 'error' listener it is a process warning.
      process.emitWarning(
        `queueRequest(${wParam}) handler failed and the pool has no 'error' listener: ${(error as Error)?.stack ?? String(error)}`,
        { code: 'IOCP_POOL_REQUEST_ERROR' },
      );
    }
  }

  /** To the 'error' listeners, or — never lost, never a silent crash — a process warning. */
  #report(error: Error, code: string): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error);
      return;
    }
    const cause = (error as Error & { cause?: unknown }).cause;
    process.emitWarning(`${error.message}${cause instanceof Error ? `: ${cause.stack}` : ''}`, { code });
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
    const name = (options !== null && typeof options === 'object' ? options.name : undefined) ?? this.#defaultName ?? 'default';
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
      let key: string | RangeError | undefined = options.name;
      if (options.filename !== undefined) {
        const filename = toFileUrl(options.filename, 'options.filename');
        // Another module: its handler is a name entry of its own (names.ts otherModuleKey).
        if (filename !== this.#filename) key = otherModuleKey(filename, options.name ?? this.#defaultName);
      }
      if (key instanceof RangeError) return Promise.reject(key);
      if (key !== undefined) {
        const index = this.#names.indexOf(key);
        if (typeof index !== 'number') return Promise.reject(index);
        handler = index;
      }
      // Infinity: no timeout (no timer at all: one that long cannot be armed).
      const timeout = options.timeout === Infinity ? undefined : options.timeout;
      // onProgress is called from the result drain, in whatever async context is current then
      // (none, or another caller's): through a resource made here, it runs in its caller's, as a
      // promise reaction does. Only run() calls that pass one pay for it. Not AsyncResource.bind():
      // it costs about 20 µs a call (Node 20), a resource and a closure about 0.3 µs.
      const onProgress = options.onProgress === undefined ? undefined : inCallerContext(options.onProgress);
      if (timeout !== undefined || onProgress !== undefined) extras = { timeout, onProgress };
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
    const port = this.#taskPort.stats();
    return {
      threads: this.#threads.size,
      running: port.running,
      waiting: port.waiting,
      queued: port.queued + this.#tasks.backlogged,
      completed: this.#tasks.completed + ((Atomics.load(this.#i32, A_REQUESTS) >>> 0) - this.#requestFailed),
      failed: this.#tasks.failed + this.#requestFailed,
      runTime: this.#results.runTime.percentiles(),
      waitTime: this.#results.waitTime.percentiles(),
      utilization: this.#results.utilization.take(this.#threads.size),
      heap: this.#heap.stats(),
    };
  }
}

/** `callback`, called in the async context current now (an AsyncResource made once per call of this). */
function inCallerContext(callback: (value: unknown) => void): (value: unknown) => void {
  const resource = new AsyncResource('iocp-pool.run');
  return (value) => resource.runInAsyncScope(callback, undefined, value);
}
