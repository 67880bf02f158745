/**
 * A pool's life: open → closing (close(), CThreadPools::Close: one sentinel
 * per thread after everything queued) or destroyed (destroy(): at once); a
 * module that cannot be used fails it. And each thread's exit: an orderly
 * exit (its sentinel, idle retirement, recycling) or a death, which settles
 * that thread's tasks and replaces it — unless the module kills every thread
 * it runs in, which would be a spawn loop (deaths.ts: an exit's reason, and
 * what a death does). A thread whose setup() fails is started again after a
 * backoff (setup-retry.ts).
 */
import type { CompletionPacket, CompletionPort } from '../../port/index.js';
import { PoolClosedError, type WorkerLoadError } from '../errors.js';
import type { HeapKeeper } from './heap-keeper.js';
import type { KeepAlive } from './keep-alive.js';
import { A_LIVE, A_SENTINELS, K_REQUEST, SENTINEL } from '../layout.js';
import { requestsQueued } from '../requests.js';
import { closeTimeout } from '../call-options.js';
import { EXIT_RETIRED } from '../protocol.js';
import { Deaths, exitReason } from './deaths.js';
import type { ThreadExitReason } from '../types.js';
import type { ResultDrain } from './results.js';
import { SetupRetry } from './setup-retry.js';
import type { TaskTable } from './tasks.js';
import type { ThreadSet } from './threads.js';
import type { WorkerRecord } from './worker-record.js';

export const State = { Open: 0, Closing: 1, Destroyed: 2 } as const;
export type State = (typeof State)[keyof typeof State];

/** The parts of the pool the lifecycle drives (each created before it). */
export interface LifecycleParts {
  readonly filename: string;
  /** The `threads` option. */
  readonly size: number;
  /** The `minThreads` option: `ready` waits for that many threads (at least one). */
  readonly minThreads: number;
  readonly i32: Int32Array;
  readonly taskPort: CompletionPort;
  readonly resultPort: CompletionPort;
  readonly tasks: TaskTable;
  readonly results: ResultDrain;
  readonly threads: ThreadSet;
  readonly heap: HeapKeeper;
  readonly keepAlive: KeepAlive;
}

/** What the lifecycle tells the pool around it. */
export interface LifecycleListener {
  /** To the 'error' listeners, or a process warning with `code`. */
  report(error: Error, code: string): void;
  /** The 'threadExit' event. */
  exited(record: WorkerRecord, reason: ThreadExitReason, code: number): void;
  /** Slots were freed (a thread's tasks settled): move the backlog in. */
  pump(): void;
}

export class Lifecycle {
  state: State = State.Open;
  /** Set when the module cannot be used: every run() rejects with it. */
  loadError: WorkerLoadError | undefined;
  /** `ready` has resolved: the initial threads have loaded the module. The keep-alive policy waits for it, so that `await pool.ready` keeps the process alive. */
  isReady = false;
  readonly ready: Promise<void>;
  #readyResolve!: () => void;
  #readyReject!: (error: unknown) => void;
  #closed: Promise<void> | undefined;
  #closedResolve: (() => void) | undefined;
  #sentinelsPosted = 0;
  /** close({ timeout }): when the deadline falls (performance.now() ms), and its timer. */
  #deadlineAt = Infinity;
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** A thread has loaded the module (and run its setup()) since the pool started. */
  #started = false;
  /** What a thread's death means (deaths.ts). */
  readonly #deaths: Deaths;
  /** Threads whose setup() failed: their restarts (setup-retry.ts). */
  readonly #setupRetry: SetupRetry;
  readonly #host: LifecycleParts;
  readonly #listener: LifecycleListener;

  constructor(parts: LifecycleParts, listener: LifecycleListener) {
    const host = (this.#host = parts);
    this.#listener = listener;
    this.#setupRetry = new SetupRetry({
      filename: host.filename,
      threads: host.threads,
      started: () => this.#started,
      keepsAlive: () => host.keepAlive.refed,
      startThreads: (n) => {
        for (let i = 0; i < n && this.#replaceable() && host.threads.size < host.size; i++) this.spawn();
      },
      fail: (error) => this.fail(error),
      report: (error, code) => listener.report(error, code),
    });
    this.#deaths = new Deaths({
      filename: host.filename,
      tasks: host.tasks,
      results: host.results,
      keepAlive: host.keepAlive,
      stopped: () => this.state === State.Destroyed || this.loadError !== undefined,
      fail: (error) => this.fail(error),
      replace: () => {
        const replaced = this.#replaceable();
        if (replaced) this.spawn();
        return replaced;
      },
      pump: () => listener.pump(),
      report: (error, code) => listener.report(error, code),
    });
    // A pending restart keeps the process alive as the threads do.
    host.keepAlive.onChange((refed) => this.#setupRetry.keepAlive(refed));
    this.ready = new Promise<void>((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.ready.catch(() => {}); // a load error is also reported by every run(): never an unhandled rejection
  }

  /** run() and queueRequest() may add work. */
  get accepting(): boolean {
    return this.state === State.Open && this.loadError === undefined;
  }

  /** A thread loaded the module; `ready` resolves once minThreads of the live ones (at least one) have. */
  threadReady(): void {
    // Any thread that starts shows the module can start one: setup() failures count again from 0,
    // and threads owed a restart since before the first start are started (setup-retry.ts).
    this.#started = true;
    this.#setupRetry.ready();
    if (this.isReady) return;
    let loaded = 0;
    for (const record of this.#host.threads.live.values()) if (record.loaded) loaded++;
    if (loaded < Math.max(1, this.#host.minThreads)) return;
    this.isReady = true;
    this.#host.keepAlive.settled = true;
    this.#readyResolve();
  }

  /**
   * A thread could not start: its module did not load (or exports no handler) — the pool fails
   * at once, that is no transient failure — or (`setup`) its setup() threw: setup-retry.ts.
   */
  loadFailed(record: WorkerRecord, error: WorkerLoadError, setup: boolean): void {
    if (!setup) this.fail(error);
    else if (this.loadError === undefined && this.state !== State.Destroyed) this.#setupRetry.failed(record, error);
  }

  /** Starts the pool's initial threads (the constructor's last step): minThreads of them, at least one; grow() adds the rest as work needs them. */
  start(): void {
    const initial = Math.max(1, this.#host.minThreads);
    for (let i = 0; i < initial; i++) this.spawn();
    this.#host.keepAlive.armIdle();
  }

  /** Starts one thread; it keeps the process alive while the pool has work (keep-alive.ts). */
  spawn(): WorkerRecord {
    const record = this.#host.threads.spawn(this.#host.keepAlive.refed);
    Atomics.add(this.#host.i32, A_LIVE, 1);
    return record;
  }

  // ───────────────────────────── exits ─────────────────────────────

  onExit(record: WorkerRecord, code: number): void {
    const host = this.#host;
    // Give back whatever the thread held on the ports: running slots, waiter places, a handed
    // packet. The task port also names the packet the thread took last (A6).
    let lastTaken: CompletionPacket[] = [];
    for (const port of [host.taskPort, host.resultPort]) {
      try {
        const released = port.releaseThread(record.threadId);
        if (port === host.taskPort) lastTaken = released.lastTaken;
      } catch {
        /* a closed port has nothing to give back */
      }
    }
    // A thread stopped by terminate() may have been creating a heap segment: repair the table.
    host.heap.releaseThread(record.threadId);
    if (code !== EXIT_RETIRED) Atomics.sub(host.i32, A_LIVE, 1);
    const reason = exitReason(record, code, this.state === State.Destroyed);
    if (reason === 'died' || reason === 'timeout') this.#deaths.died(record, code, lastTaken);
    else if (reason === 'recycle' && this.#replaceable()) record.replacement = this.spawn();
    this.#listener.exited(record, reason, code);
    if (host.threads.size === 0 && this.state === State.Closing) void this.#finishClose();
    else if (reason === 'idle') this.#afterRetirement();
  }

  /** May a thread that left be replaced? Open: yes; closing: only while a sentinel waits for a thread to take it. */
  #replaceable(): boolean {
    if (this.loadError !== undefined) return false;
    if (this.state === State.Open) return true;
    if (this.state !== State.Closing) return false;
    const outstanding = this.#sentinelsPosted - Atomics.load(this.#host.i32, A_SENTINELS);
    return outstanding > this.#host.threads.size || this.#sentinelsPosted === 0;
  }

  /**
   * A thread retired (idle above minThreads). A run() or queueRequest that came while it was
   * leaving saw it alive and started no thread; now that it is gone, start one if work waits
   * and no thread is waiting for it.
   */
  #afterRetirement(): void {
    const host = this.#host;
    if (!this.accepting || host.threads.size >= host.size) return;
    const requests = requestsQueued(host.i32) > 0;
    if (host.tasks.inflight > 0 || requests || !host.tasks.backlogEmpty) this.grow();
  }

  /**
   * Work was added while the pool has fewer than `threads`: start one more thread if the work not
   * yet started outnumbers the threads free to take it — those still starting, and those running
   * no run() task (a thread whose last result was just read is free though it may not be back on
   * the port yet: counting only the port's waiters, a pool fed one task at a time started a thread
   * for nearly every task, which idleTimeout then retired) or waiting on the port (a thread
   * awaiting an async handler takes more). So a pool grows only when no thread would take the
   * work soon (one thread per call: each run() that finds every thread busy adds one).
   */
  grow(): void {
    // A thread whose setup() failed is started again by its backoff's timer, not sooner.
    if (!this.accepting || this.#setupRetry.pending) return;
    const { tasks, threads } = this.#host;
    const queued = tasks.queued();
    const unstarted = queued + Math.max(0, requestsQueued(this.#host.i32));
    const starting = threads.startingCount;
    if (unstarted <= starting) return;
    // Slots in use whose task has started: running, or done with its result not yet read.
    const running = Math.max(0, tasks.inflight - (queued - tasks.backlogged));
    if (unstarted <= starting + (threads.size - starting - running)) return;
    // The port's count last: it takes the port's lock.
    if (unstarted > starting + this.#host.taskPort.stats().waiting) this.spawn();
  }

  // ──────────────────────────── stopping ────────────────────────────

  /**
   * The worker module cannot be used (it does not load, exports no handler, kills every thread):
   * every pending and later run() rejects with why, queueRequest returns false, the threads are
   * stopped and never replaced, and nothing is left that keeps the process alive.
   */
  fail(error: WorkerLoadError): void {
    if (this.loadError !== undefined) return;
    this.loadError = error;
    this.#host.keepAlive.settled = true;
    this.#setupRetry.clear();
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
    this.#host.tasks.rejectAll(error);
    const leftover = this.#closePorts();
    if (reportRequests) this.#reportUnhandled(leftover, 'the close deadline passed before a thread took them');
    this.#host.threads.terminateAll();
  }

  /** Closes both ports; returns the packets the task port still held. */
  #closePorts(): CompletionPacket[] {
    const leftover = this.#host.taskPort.close();
    this.#host.resultPort.close();
    // The result loop sleeps on the arena, not in the port: tell it to look (it finds the port closed).
    this.#host.results.wake();
    return leftover;
  }

  /** queueRequest packets that no thread will take: never dropped silently. */
  #reportUnhandled(leftover: CompletionPacket[], why: string): void {
    const requests = leftover.filter((p) => p.bytesTransferred === K_REQUEST && p.overlapped !== SENTINEL).length;
    if (requests > 0)
      this.#listener.report(new PoolClosedError(`${requests} queueRequest packet(s) were not handled: ${why}`), 'IOCP_POOL_REQUEST_ERROR');
  }

  /** See ThreadPool.close(). */
  close(options: unknown): Promise<void> {
    let timeout: number;
    try {
      timeout = closeTimeout(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed === undefined) {
      if (this.state === State.Destroyed) return Promise.resolve();
      this.state = State.Closing;
      this.#closed = new Promise<void>((resolve) => {
        this.#closedResolve = resolve;
      });
      // Closing: the threads keep the process alive until they are gone.
      this.#host.keepAlive.refAll();
      this.#host.keepAlive.stop();
      if (this.#host.threads.size === 0) void this.#finishClose();
      // A failed pool's threads are being terminated already: the last exit finishes the close.
      else if (this.loadError === undefined) this.postSentinels();
    }
    if (timeout !== Infinity && this.state === State.Closing) this.#armDeadline(timeout);
    return this.#closed;
  }

  #armDeadline(timeout: number): void {
    const at = performance.now() + timeout;
    if (at >= this.#deadlineAt) return;
    this.#deadlineAt = at;
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = setTimeout(() => {
      this.#deadlineTimer = undefined;
      if (this.state !== State.Closing || this.#host.threads.size === 0) return;
      this.#stopAll(new PoolClosedError(`the close() deadline of ${timeout} ms passed before this task finished: its thread was stopped`), true);
    }, timeout);
  }

  /** Sentinels go after the backlog: only once every run() accepted before close() has its packet posted. */
  postSentinels(): void {
    const host = this.#host;
    if (this.#sentinelsPosted !== 0 || !host.tasks.backlogEmpty || this.loadError !== undefined) return;
    const n = host.threads.size;
    for (let i = 0; i < n; i++) {
      if (!host.taskPort.post(K_REQUEST, 0, SENTINEL)) {
        // Full of queueRequest packets: try the rest once threads have drained some.
        setTimeout(() => this.postSentinels(), 1);
        return;
      }
      this.#sentinelsPosted++;
    }
  }

  async #finishClose(): Promise<void> {
    const host = this.#host;
    // Results posted by the last threads before they exited: queued ones are taken here (a few
    // turns, for a result the loop is reading meanwhile).
    for (let turn = 0; turn < 100 && host.tasks.inflight > 0; turn++) {
      if (!host.results.takeQueued()) break;
      if (host.tasks.inflight > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    host.tasks.rejectAll(new PoolClosedError('the pool closed before this task ran'));
    this.#reportUnhandled(this.#closePorts(), 'they were posted after close() began');
    this.#clearTimers();
    host.heap.close();
    this.#closedResolve?.();
  }

  #clearTimers(): void {
    this.#host.keepAlive.stop();
    this.#setupRetry.clear();
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
  }

  /** See ThreadPool.destroy(). */
  async destroy(): Promise<void> {
    if (this.state !== State.Destroyed) {
      this.state = State.Destroyed;
      this.#clearTimers();
      this.#stopAll(new PoolClosedError('the pool was destroyed before this task finished'), false);
    }
    await this.#host.threads.allExited();
    this.#host.heap.close();
    this.#closedResolve?.();
  }
}
