/**
 * ThreadPool — the CThreadPools class of the original articles
 * (docs/background.md) on a CompletionPort, with a promise-based task API.
 *
 *   CThreadPools::Init          new ThreadPool()      threads loop on port.get()
 *   CThreadPools::QueueRequest  queueRequest(wParam)  port.post(0, wParam, 0)
 *   CThreadPools::Close         close()               one sentinel (overlapped -1) per thread
 *
 * The run() hot path never calls postMessage: the task is written into a
 * slot of the pool's shared arena (layout.ts, codec.ts, tasks.ts) and the
 * slot's index is posted on the task port; the worker writes the result into
 * the same slot and posts the index on the result port, which this thread
 * drains in batches (results.ts) and resolves many promises per wake-up. Per
 * task the main thread allocates the promise, nothing else.
 *
 * This file holds the pool's state and the decisions: what run() and
 * queueRequest() accept, what a thread's exit means (lifecycle below), when
 * the pool keeps the process alive. The parts: tasks.ts (slots and backlog),
 * results.ts (the result loop), threads.ts (starting and hearing threads).
 */
import { EventEmitter } from 'node:events';
import { type CompletionPacket, CompletionPort } from '../port/index.js';
import { ArenaViews } from './codec.js';
import { AbortError, PoolClosedError, QueueFullError, WorkerDiedError, WorkerLoadError } from './errors.js';
import {
  A_LIVE,
  A_MAGIC,
  A_MIN,
  A_REQ_POSTED,
  A_REQ_TAKEN,
  A_REQUESTS,
  A_SENTINELS,
  A_SLOT_BYTES,
  A_SLOTS,
  ARENA_MAGIC,
  arenaGeometry,
  K_REQUEST,
  SENTINEL,
} from './layout.js';
import {
  type CloseOptions,
  closeTimeout,
  resolveOptions,
  type RunOptions,
  runOptionsError,
  type ThreadPoolOptions,
  type ThreadPoolStats,
} from './options.js';
import { HandlerNames } from './names.js';
import { EXIT_PORT_CLOSED, EXIT_RETIRED, EXIT_SENTINEL } from './protocol.js';
import { ResultDrain } from './results.js';
import { TaskTable } from './tasks.js';
import { ThreadSet, type WorkerRecord } from './threads.js';
import type { Infer, PoolEvents, RunName, RunResult, RunTask } from './types.js';

/** A thread that dies idle within this long of starting is an early death (ms)… */
const EARLY_DEATH_MS = 1000;
/** …and this many in a row mean the module kills every thread: the pool fails instead of respawning. */
const EARLY_DEATHS = 3;
/** How often an idle pool checks whether it may stop keeping the process alive (ms). */
const IDLE_CHECK_MS = 50;

/** The pool's life: open → closing (close()) or destroyed (destroy(); also from closing). */
const State = { Open: 0, Closing: 1, Destroyed: 2 } as const;
type State = (typeof State)[keyof typeof State];

/**
 * The pool's events, typed (see PoolEvents): an interface merged with the class below, whose type
 * parameters it must repeat. Unknown events keep EventEmitter's untyped signature.
 */
// biome-ignore-start lint/suspicious/noExplicitAny: EventEmitter's own listener type, for events PoolEvents does not list.
// biome-ignore lint/correctness/noUnusedVariables: a merged declaration repeats the class's type parameters.
export interface ThreadPool<T, R> {
  on<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  off<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this;
  off(event: string | symbol, listener: (...args: any[]) => void): this;
  addListener<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this;
  addListener(event: string | symbol, listener: (...args: any[]) => void): this;
  removeListener<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this;
  removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
}
// biome-ignore-end lint/suspicious/noExplicitAny: EventEmitter's own listener type.

/**
 * A pool of worker threads on a completion port.
 *
 * Type arguments: `ThreadPool<typeof import('./worker.js')>` reads the worker
 * module's exports, so run() takes and resolves to what each handler does
 * (see types.ts); `ThreadPool<Task, Result>` declares them by hand; none:
 * `unknown`.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface above only types EventEmitter's methods; it adds no member.
export class ThreadPool<T = unknown, R = Infer> extends EventEmitter {
  readonly threads: number;
  readonly minThreads: number;
  readonly concurrency: number;
  readonly maxQueue: number;

  readonly #filename: string;
  readonly #taskPort: CompletionPort;
  readonly #resultPort: CompletionPort;
  readonly #i32: Int32Array;
  readonly #queueCapacity: number;
  readonly #tasks: TaskTable;
  readonly #results: ResultDrain;
  readonly #threads: ThreadSet;
  readonly #names: HandlerNames;

  #state: State = State.Open;
  #refed = true;
  #idleTimer: NodeJS.Timeout | undefined;
  #sentinelsPosted = 0;
  #loadError: WorkerLoadError | undefined;
  readonly #ready: Promise<void>;
  #readyResolve!: () => void;
  #readyReject!: (error: unknown) => void;
  /** A thread has loaded the module: until then the pool stays ref'd, so `await pool.ready` cannot end the process. */
  #isReady = false;
  #closed: Promise<void> | undefined;
  #closedResolve: (() => void) | undefined;
  /** close({ timeout }): when the deadline falls (performance.now() ms), and its timer. */
  #deadlineAt = Infinity;
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** Threads in a row that died idle right after starting (see EARLY_DEATHS). */
  #earlyDeaths = 0;
  /** queueRequest handlers that failed (A_REQUESTS counts them among the handled). */
  #requestFailed = 0;

  constructor(options: ThreadPoolOptions) {
    super();
    const o = resolveOptions(options);
    this.#filename = o.filename;
    this.threads = o.threads;
    this.minThreads = o.minThreads;
    this.concurrency = o.concurrency;
    this.maxQueue = o.maxQueue;
    this.#queueCapacity = o.queueCapacity;
    const slots = o.slots;

    // The task port holds every slot's packet plus the queueRequest packets and sentinels.
    const backend = o.backend;
    this.#taskPort = new CompletionPort({ concurrency: this.concurrency, capacity: o.queueCapacity + slots, maxThreads: 2 * this.threads + 16, backend });
    // One consumer (this thread); one packet per slot at most, so a post can never find it full.
    this.#resultPort = new CompletionPort({ concurrency: 1, capacity: slots, maxThreads: 8, spinCount: 0, backend });

    const geo = arenaGeometry(slots, o.slotBytes);
    const arena = new ArenaViews(new SharedArrayBuffer(geo.byteLength), slots, geo.slotBytes);
    this.#names = new HandlerNames(arena.buffer, geo);
    const i32 = (this.#i32 = arena.i32);
    i32[A_MAGIC] = ARENA_MAGIC;
    i32[A_SLOTS] = slots;
    i32[A_SLOT_BYTES] = geo.slotBytes;
    i32[A_MIN] = this.minThreads;

    this.#tasks = new TaskTable(arena, this.#taskPort, this.concurrency, {
      posted: () => this.#results.start(),
      abortRunning: (owner, slot, ticket) => this.#threads.abort(owner, slot, ticket),
    });
    this.#results = new ResultDrain(this.#resultPort, this.#tasks, arena, this.concurrency, {
      resultChannel: (workerId) => this.#threads.resultChannel(workerId),
      afterBatch: () => this.#pump(),
      idle: () => this.#armIdle(),
      corrupt: (error) => this.emit('error', error),
    });
    this.#threads = new ThreadSet(
      {
        __iocpPool: true,
        filename: o.filename,
        defaultName: o.name,
        taskPort: this.#taskPort.handle,
        resultPort: this.#resultPort.handle,
        arena: arena.buffer,
        slots,
        slotBytes: geo.slotBytes,
        spinCount: o.spinCount,
        idleTimeout: this.minThreads < this.threads ? o.idleTimeout : Infinity,
        queueCapacity: o.queueCapacity,
        workerData: options.workerData,
      },
      o.workerOptions,
      this.#tasks,
      {
        ready: () => {
          this.#isReady = true;
          this.#readyResolve();
        },
        loadError: (_, cause) => this.#fail(new WorkerLoadError(cause?.message ?? String(cause), cause)),
        requestError: (wParam, error) => this.#requestError(wParam, error),
        run: (task, signal) => this.#run(task, signal === undefined ? undefined : { signal }),
        exit: (record, code) => this.#onExit(record, code),
      },
    );

    this.#ready = new Promise<void>((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.#ready.catch(() => {}); // a load error is also reported by every run(): never an unhandled rejection
    for (let i = 0; i < this.threads; i++) this.#spawn();
    this.#armIdle();
  }

  /** Resolves when the first thread has loaded the worker module; rejects with a WorkerLoadError. */
  get ready(): Promise<void> {
    return this.#ready;
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
    if (typeof wParam !== 'number' || !Number.isFinite(wParam)) {
      throw new TypeError(`wParam must be a finite number, got ${typeof wParam === 'number' ? wParam : typeof wParam}`);
    }
    if (this.#state !== State.Open || this.#loadError !== undefined) return false;
    const i32 = this.#i32;
    // The port's capacity is queueCapacity + slots: the slots' share is reserved for run() tasks.
    if (((Atomics.load(i32, A_REQ_POSTED) - Atomics.load(i32, A_REQ_TAKEN)) | 0) >= this.#queueCapacity) return false;
    if (!this.#taskPort.post(K_REQUEST, wParam, 0)) return false;
    Atomics.add(i32, A_REQ_POSTED, 1);
    if (!this.#refed) this.#refAll();
    if (this.#threads.size < this.threads) this.#grow();
    return true;
  }

  #requestError(wParam: number, error: unknown): void {
    this.#tasks.failed++;
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

  // ──────────────────────────────── run ────────────────────────────────

  /**
   * Runs task on a pool thread: calls the worker module's export `options.name` (default: the
   * pool's `name` option, else the default export); resolves with what it returns, rejects with
   * what it throws.
   */
  run<N extends RunName<T, R> = never>(task: RunTask<T, R, N>, options?: RunOptions<N>): Promise<RunResult<T, R, N>> {
    return this.#run(task, options) as Promise<RunResult<T, R, N>>;
  }

  #run(task: unknown, options: RunOptions | undefined): Promise<unknown> {
    if (this.#state !== State.Open) {
      return Promise.reject(new PoolClosedError(`run() after ${this.#state === State.Closing ? 'close()' : 'destroy()'}: the pool takes no more tasks`));
    }
    if (this.#loadError !== undefined) return Promise.reject(this.#loadError);
    let signal: AbortSignal | undefined;
    let transferList: RunOptions['transferList'];
    let handler = 0;
    if (options !== undefined) {
      // Checked before anything is taken (a slot, a backlog place): a bad option leaks nothing.
      const bad = runOptionsError(options);
      if (bad !== undefined) return Promise.reject(bad);
      signal = options.signal;
      transferList = options.transferList;
      if (options.name !== undefined) {
        const index = this.#names.indexOf(options.name);
        if (typeof index !== 'number') return Promise.reject(index);
        handler = index;
      }
      if (signal?.aborted) {
        this.#tasks.failed++;
        return Promise.reject(new AbortError(signal.reason));
      }
    }
    if (this.maxQueue !== Infinity && this.#tasks.queued() >= this.maxQueue) return Promise.reject(new QueueFullError(this.maxQueue));
    if (!this.#refed) this.#refAll();
    if (this.#threads.size < this.threads) this.#grow();
    return this.#tasks.add(task, handler, signal, transferList);
  }

  /** Slots were freed: move the backlog in; once it is empty, a close() can post its sentinels. */
  #pump(): void {
    if (this.#state === State.Destroyed) return;
    this.#tasks.pump();
    if (this.#state === State.Closing) this.#postSentinels();
  }

  // ───────────────────────────── threads ─────────────────────────────

  #spawn(): void {
    this.#threads.spawn(this.#refed);
    Atomics.add(this.#i32, A_LIVE, 1);
  }

  /** Below `threads` (idle ones retired): start one more if no thread is waiting for work. */
  #grow(): void {
    if (this.#state !== State.Open || this.#loadError !== undefined) return;
    if (this.#taskPort.stats().waiting === 0) this.#spawn();
  }

  #onExit(record: WorkerRecord, code: number): void {
    // Give back whatever the thread held on the ports: running slots, waiter places, a handed packet.
    for (const port of [this.#taskPort, this.#resultPort]) {
      try {
        port.releaseThread(record.threadId);
      } catch {
        /* a closed port has nothing to give back */
      }
    }
    if (code !== EXIT_RETIRED) Atomics.sub(this.#i32, A_LIVE, 1);
    const orderly = record.terminating || code === EXIT_SENTINEL || code === EXIT_RETIRED || code === EXIT_PORT_CLOSED;
    if (!orderly) this.#onDeath(record, code);
    if (this.#threads.size === 0 && this.#state === State.Closing) void this.#finishClose();
    else if (code === EXIT_RETIRED) this.#afterRetirement();
  }

  /**
   * A thread retired (idle above minThreads). A run() or queueRequest that came while it was
   * leaving saw it alive and started no thread; now that it is gone, start one if work waits
   * and no thread is waiting for it.
   */
  #afterRetirement(): void {
    if (this.#state !== State.Open || this.#loadError !== undefined || this.#threads.size >= this.threads) return;
    const requests = ((Atomics.load(this.#i32, A_REQ_POSTED) - Atomics.load(this.#i32, A_REQ_TAKEN)) | 0) > 0;
    if (this.#tasks.inflight > 0 || requests || !this.#tasks.backlogEmpty) this.#grow();
  }

  /** A thread died (process.exit, an uncaught error, resource limits): fail what it held, replace it — unless it cannot work. */
  #onDeath(record: WorkerRecord, code: number): void {
    const cause = record.error;
    if (!record.ready) {
      // Died while loading the module (process.exit or a crash at top level): replacing it would loop forever.
      const why = cause !== undefined ? `${(cause as Error)?.message ?? String(cause)}` : `it called process.exit(${code})`;
      this.#fail(new WorkerLoadError(`worker module ${this.#filename} failed to load: ${why}`, cause));
      return;
    }
    if (this.#state === State.Destroyed || this.#loadError !== undefined) return;
    const why = cause !== undefined ? `an uncaught error (${(cause as Error)?.message ?? String(cause)})` : `process.exit(${code})`;
    // Its tasks fail with the cause; nobody else's do.
    const failed = this.#tasks.failOwned(record.id, () => new WorkerDiedError(`the pool thread running this task died of ${why}`, cause));
    if (this.#tasks.inflight === 0) this.#armIdle();
    this.#pump();
    if (failed === 0 && performance.now() - record.readyAt < EARLY_DEATH_MS) {
      // Died idle, right after it started: a module that kills every thread it runs in (a timer
      // that throws at load…). Replacing such threads forever would be a spawn loop.
      if (++this.#earlyDeaths >= EARLY_DEATHS) {
        const message = `worker module ${this.#filename} cannot run: ${EARLY_DEATHS} pool threads in a row died of ${why} within ${EARLY_DEATH_MS} ms of starting, so the pool stopped replacing them`;
        this.#fail(new WorkerLoadError(message, cause));
        return;
      }
    } else {
      this.#earlyDeaths = 0;
    }
    let replaced = false;
    if (this.#state === State.Open) {
      replaced = true;
    } else if (this.#state === State.Closing) {
      // Closing: replace it only if a sentinel is still waiting for a thread to take it.
      const outstanding = this.#sentinelsPosted - Atomics.load(this.#i32, A_SENTINELS);
      replaced = outstanding > this.#threads.size || this.#sentinelsPosted === 0;
    }
    if (replaced) this.#spawn();
    if (failed === 0) {
      // No run() carried the news (the thread was idle or in a queueRequest handler): not silently.
      this.#report(new WorkerDiedError(`a pool thread died of ${why}${replaced ? ' and was replaced' : ''}`, cause), 'IOCP_POOL_WORKER_DIED');
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

  /**
   * The worker module cannot be used (it does not load, exports no handler, kills every thread):
   * every pending and later run() rejects with why, queueRequest returns false, the threads are
   * stopped and never replaced, and nothing is left that keeps the process alive.
   */
  #fail(error: WorkerLoadError): void {
    if (this.#loadError !== undefined) return;
    this.#loadError = error;
    this.#readyReject(error);
    this.#stopAll(error, false);
  }

  /**
   * Ends the pool's work now — a load failure, destroy(), a close deadline: every pending task
   * rejects with `error` (one object for all: a stack trace per task cost ~9 µs each, seconds for
   * a long backlog), the ports close (waiters leave with PortClosedError, the result loop ends),
   * and every thread is terminated; their exits are expected, so none is reported or replaced.
   */
  #stopAll(error: Error, reportRequests: boolean): void {
    this.#tasks.rejectAll(error);
    const leftover = this.#closePorts();
    if (reportRequests) this.#reportUnhandled(leftover, 'the close deadline passed before a thread took them');
    this.#threads.terminateAll();
  }

  /** Closes both ports; returns the packets the task port still held. */
  #closePorts(): CompletionPacket[] {
    const leftover = this.#taskPort.close();
    this.#resultPort.close();
    return leftover;
  }

  /** queueRequest packets that no thread will take: never dropped silently. */
  #reportUnhandled(leftover: CompletionPacket[], why: string): void {
    const requests = leftover.filter((p) => p.bytesTransferred === K_REQUEST && p.overlapped !== SENTINEL).length;
    if (requests > 0) this.#report(new PoolClosedError(`${requests} queueRequest packet(s) were not handled: ${why}`), 'IOCP_POOL_REQUEST_ERROR');
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
   */
  close(options?: CloseOptions): Promise<void> {
    let timeout: number;
    try {
      timeout = closeTimeout(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed === undefined) {
      if (this.#state === State.Destroyed) return Promise.resolve();
      this.#state = State.Closing;
      this.#closed = new Promise<void>((resolve) => {
        this.#closedResolve = resolve;
      });
      this.#refAll();
      if (this.#threads.size === 0) void this.#finishClose();
      // A failed pool's threads are being terminated already: the last exit finishes the close.
      else if (this.#loadError === undefined) this.#postSentinels();
    }
    if (timeout !== Infinity && this.#state === State.Closing) this.#armDeadline(timeout);
    return this.#closed;
  }

  /** `await using pool = new ThreadPool(…)`: the same as close(). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #armDeadline(timeout: number): void {
    const at = performance.now() + timeout;
    if (at >= this.#deadlineAt) return;
    this.#deadlineAt = at;
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = setTimeout(() => {
      this.#deadlineTimer = undefined;
      if (this.#state !== State.Closing || this.#threads.size === 0) return;
      this.#stopAll(new PoolClosedError(`the close() deadline of ${timeout} ms passed before this task finished: its thread was stopped`), true);
    }, timeout);
  }

  /** Sentinels go after the backlog: only once every run() accepted before close() has its packet posted. */
  #postSentinels(): void {
    if (this.#sentinelsPosted !== 0 || !this.#tasks.backlogEmpty || this.#loadError !== undefined) return;
    const n = this.#threads.size;
    for (let i = 0; i < n; i++) {
      if (!this.#taskPort.post(K_REQUEST, 0, SENTINEL)) {
        // Full of queueRequest packets: try the rest once threads have drained some.
        setTimeout(() => this.#postSentinels(), 1);
        return;
      }
      this.#sentinelsPosted++;
    }
  }

  async #finishClose(): Promise<void> {
    // Results posted by the last threads before they exited: queued ones are taken here; one
    // already handed to the result loop's getAsync arrives on a later turn, so give it a few.
    for (let turn = 0; turn < 100 && this.#tasks.inflight > 0; turn++) {
      if (!this.#results.takeQueued()) break;
      if (this.#tasks.inflight > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#tasks.rejectAll(new PoolClosedError('the pool closed before this task ran'));
    this.#reportUnhandled(this.#closePorts(), 'they were posted after close() began');
    this.#clearTimers();
    this.#closedResolve?.();
  }

  #clearTimers(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#idleTimer = this.#deadlineTimer = undefined;
  }

  /** Stops at once: every pending run() rejects, the threads are terminated; resolves when they are gone. */
  async destroy(): Promise<void> {
    if (this.#state !== State.Destroyed) {
      this.#state = State.Destroyed;
      this.#clearTimers();
      this.#stopAll(new PoolClosedError('the pool was destroyed before this task finished'), false);
    }
    await this.#threads.allExited();
    this.#closedResolve?.();
  }

  // ───────────────────────── keep-alive policy ─────────────────────────

  /** Work exists: the threads keep the process alive. */
  #refAll(): void {
    this.#refed = true;
    this.#threads.ref();
    this.#armIdle();
  }

  /**
   * Idle pools must not keep the process alive (like piscina). Checked on a
   * timer, not per task, so one-at-a-time run() does not ref/unref each time.
   */
  #armIdle(): void {
    if (this.#idleTimer !== undefined || !this.#refed) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#state !== State.Open) return;
      // Requests count as work while queued or running synchronously (a thread holds a running
      // slot); "taken", not "handled", so a thread that died in a handler cannot keep the pool ref'd.
      const requestsIdle =
        ((Atomics.load(this.#i32, A_REQ_TAKEN) - Atomics.load(this.#i32, A_REQ_POSTED)) | 0) === 0 && this.#taskPort.stats().running === 0;
      if ((this.#isReady || this.#loadError !== undefined) && this.#tasks.inflight === 0 && this.#tasks.backlogEmpty && requestsIdle) {
        this.#refed = false;
        this.#threads.unref();
      } else {
        this.#armIdle();
      }
    }, IDLE_CHECK_MS);
    this.#idleTimer.unref();
  }

  // ─────────────────────────────── stats ───────────────────────────────

  stats(): ThreadPoolStats {
    const port = this.#taskPort.stats();
    return {
      threads: this.#threads.size,
      running: port.running,
      waiting: port.waiting,
      queued: port.queued + this.#tasks.backlogged,
      completed: this.#tasks.completed + ((Atomics.load(this.#i32, A_REQUESTS) >>> 0) - this.#requestFailed),
      failed: this.#tasks.failed,
      runTime: this.#results.runTime.percentiles(),
      waitTime: this.#results.waitTime.percentiles(),
    };
  }
}
