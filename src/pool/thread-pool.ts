/**
 * ThreadPool — the seeds' CThreadPools on a CompletionPort, with a
 * promise-based task API.
 *
 *   CThreadPools::Init          new ThreadPool()      threads loop on port.get()
 *   CThreadPools::QueueRequest  queueRequest(wParam)  port.post(0, wParam, 0)
 *   CThreadPools::Close         close()               one sentinel (overlapped -1) per thread
 *
 * The run() hot path never calls postMessage: the task is written into a
 * slot of the pool's shared arena (layout.ts, codec.ts) and the slot's index
 * is posted on the task port; the worker writes the result into the same
 * slot and posts the index on the result port, which this thread drains in
 * batches (one getAsync wake-up, then getMany(…, 0)) and resolves many
 * promises per wake-up. Per task the main thread allocates the promise and
 * its executor closure, nothing else.
 */
import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort, receiveMessageOnPort, type TransferListItem, Worker } from 'node:worker_threads';
import { CompletionPort, type CompletionPacket, PortClosedError } from '../port/index.js';
import { ArenaViews, errorToRecord, isErrorRecord, recordToError, TAG_FALLBACK } from './codec.js';
import { AbortError, PoolClosedError, QueueFullError, WorkerDiedError, WorkerLoadError } from './errors.js';
import { Reservoir } from './histogram.js';
import { SpinPolicy } from './latency.js';
import {
  type CloseOptions,
  closeTimeout,
  resolveOptions,
  type RunOptions,
  runOptionsError,
  type ThreadPoolOptions,
  type ThreadPoolStats,
} from './options.js';
import {
  A_INFLIGHT,
  A_LIVE,
  A_MAGIC,
  A_MIN,
  A_REQUESTS,
  A_RESULTS,
  A_SENTINELS,
  A_SLOT_BYTES,
  A_SLOTS,
  A_SPIN,
  A_REQ_POSTED,
  A_REQ_TAKEN,
  A_STARTED,
  ARENA_MAGIC,
  arenaGeometry,
  CANCELLED,
  F_SIGNAL,
  F_TIMED,
  FREE,
  K_REQUEST,
  K_TASK,
  QUEUED,
  R_CANCELLED,
  R_ERROR,
  R_ERROR_MESSAGE,
  R_OK,
  R_OK_MESSAGE,
  RUNNING,
  SENTINEL,
  slotWord,
  T_FLAGS,
  T_OWNER,
  T_RUN,
  T_START,
  T_STATE,
  T_TAG,
  T_TICKET,
} from './layout.js';
import { EXIT_PORT_CLOSED, EXIT_RETIRED, EXIT_SENTINEL, type FallbackResult, type FromWorker, type PoolWorkerData, type ToWorker } from './protocol.js';

/**
 * One executor for every run() promise: it parks the promise's functions in
 * these two variables, which the caller reads right after `new Promise` (the
 * executor runs synchronously). Saves a closure per task on the hot path —
 * Promise.withResolvers() would do the same, but Node 20 lacks it.
 */
let capturedResolve: ((value: unknown) => void) | undefined;
let capturedReject: ((error: unknown) => void) | undefined;
function capture(resolve: (value: never) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve as (value: unknown) => void;
  capturedReject = reject;
}

/** The built worker runtime, next to this bundle in dist/. */
const WORKER_URL = new URL('./worker.js', import.meta.url);

/** Result packets taken per getMany: enough to amortize a wake-up, small enough to keep latency even. */
const DRAIN_BATCH = 256;
/** The drain loop yields to the event loop at least this often (ms), so timers and I/O are never starved. */
const YIELD_MS = 4;
/** Longest the main thread spins waiting for an imminent result (ms): well under anything noticeable. */
const SPIN_MAX_MS = 0.05;
/** Shortest: still catches a result from a thread that is spinning too (a round trip is ~1 µs, a loaded one more). */
const SPIN_MIN_MS = 0.01;
/** A thread that dies idle within this long of starting is an early death (ms)… */
const EARLY_DEATH_MS = 1000;
/** …and this many in a row mean the module kills every thread: the pool fails instead of respawning. */
const EARLY_DEATHS = 3;

const enum State {
  Open,
  Closing,
  Destroyed,
}

interface WorkerRecord {
  id: number;
  worker: Worker;
  threadId: number;
  resultChannel: MessagePort;
  /** Why it died, when an 'error' event said so. */
  error: unknown;
  /** It loaded the worker module. */
  ready: boolean;
  /** run() calls this worker made through currentPool().run(), by its call id. */
  calls: Map<number, AbortController | undefined>;
  /** The pool terminated it (load failure, destroy(), a close deadline): its exit is expected, never replaced or reported. */
  terminating: boolean;
  /** performance.now() when it said it was ready (0: not yet). */
  readyAt: number;
}

/** A run() that waits here because every slot is taken (or the port is full). */
interface Backlogged {
  task: unknown;
  signal: AbortSignal | undefined;
  transferList: readonly TransferListItem[] | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  onAbort: (() => void) | undefined;
  done: boolean;
}

export class ThreadPool<Task = unknown, Result = unknown> extends EventEmitter {
  readonly threads: number;
  readonly minThreads: number;
  readonly concurrency: number;
  readonly maxQueue: number;

  readonly #filename: string;
  readonly #options: ThreadPoolOptions;
  readonly #taskPort: CompletionPort;
  readonly #resultPort: CompletionPort;
  readonly #arena: ArenaViews;
  readonly #i32: Int32Array;
  readonly #slotBytes: number;
  readonly #slots: number;
  readonly #queueCapacity: number;
  readonly #spinCount: number;
  readonly #idleTimeout: number;

  // Per slot, in this thread's memory (A1): the promise's functions and the task's signal.
  readonly #resolve: (((value: unknown) => void) | undefined)[];
  readonly #reject: (((error: unknown) => void) | undefined)[];
  readonly #signal: (AbortSignal | undefined)[];
  readonly #onAbort: ((() => void) | undefined)[];
  readonly #submittedAt: Float64Array;
  readonly #fallback = new Map<number, { task: unknown; transferList: readonly TransferListItem[] | undefined }>();
  /** Free slot stack (LIFO: the slot just freed is still in cache). */
  readonly #free: Int32Array;
  #freeTop: number;
  /** Slots in use: their result (or cancel acknowledgement) has not been drained yet. */
  #inflight = 0;
  readonly #backlog: (Backlogged | undefined)[] = [];
  #backlogHead = 0;
  /** Task packets posted, and tasks cancelled before they started: maxQueue accounting with A_STARTED. */
  #posted = 0;
  #cancelled = 0;
  #timedCount = 0;
  /** Submissions so far (wraps): each task's T_TICKET, so an abort can name the task and not just its slot. */
  #tickets = 0;

  readonly #workers = new Map<number, WorkerRecord>();
  /** Recently exited workers, for a fallback result still in flight when its thread retired. */
  readonly #exited = new Map<number, WorkerRecord>();
  #nextWorkerId = 1;
  #state = State.Open;
  #draining = false;
  #refed = true;
  #idleTimer: NodeJS.Timeout | undefined;
  #sentinelsPosted = 0;
  #loadError: WorkerLoadError | undefined;
  #ready: Promise<void>;
  #readyResolve!: () => void;
  #readyReject!: (error: unknown) => void;
  #closed: Promise<void> | undefined;
  #closedResolve: (() => void) | undefined;
  /** close({ timeout }): when the deadline falls (performance.now() ms), and its timer. */
  #deadlineAt = Infinity;
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** Threads in a row that died idle right after starting (see EARLY_DEATHS). */
  #earlyDeaths = 0;
  /** Current spin budget (ms), adapted by #spin: doubled on a hit, halved on a miss. */
  #spinBudget = SPIN_MAX_MS;
  /** Spin or sleep for one-at-a-time run(), by measurement (latency.ts). */
  readonly #policy = new SpinPolicy();
  /** performance.now() at post, for tasks posted while few were in flight (0: not sampled). */
  readonly #postedAt: Float64Array;
  /** A thread has loaded the module: until then the pool stays ref'd, so `await pool.ready` cannot end the process. */
  #isReady = false;

  #completed = 0;
  #failed = 0;
  /** queueRequest handlers that failed (A_REQUESTS counts them among the handled). */
  #requestFailed = 0;
  readonly #runTime = new Reservoir();
  readonly #waitTime = new Reservoir();

  constructor(options: ThreadPoolOptions) {
    super();
    const o = resolveOptions(options);
    this.#filename = o.filename;
    this.threads = o.threads;
    this.minThreads = o.minThreads;
    this.concurrency = o.concurrency;
    this.maxQueue = o.maxQueue;
    const capacity = o.queueCapacity;
    const slots = o.slots;
    const slotBytesOpt = o.slotBytes;
    this.#options = options;
    this.#queueCapacity = capacity;
    this.#spinCount = o.spinCount;
    this.#idleTimeout = this.minThreads < this.threads ? o.idleTimeout : Infinity;

    // The task port holds every slot's packet plus the queueRequest packets and sentinels.
    const backend = o.backend;
    this.#taskPort = new CompletionPort({ concurrency: this.concurrency, capacity: capacity + slots, maxThreads: 2 * this.threads + 16, backend });
    // One consumer (this thread); one packet per slot at most, so a post can never find it full.
    this.#resultPort = new CompletionPort({ concurrency: 1, capacity: slots, maxThreads: 8, spinCount: 0, backend });

    const geo = arenaGeometry(slots, slotBytesOpt);
    const buffer = new SharedArrayBuffer(geo.byteLength);
    this.#arena = new ArenaViews(buffer, slots, geo.slotBytes);
    this.#i32 = this.#arena.i32;
    this.#slots = slots;
    this.#slotBytes = geo.slotBytes;
    this.#i32[A_MAGIC] = ARENA_MAGIC;
    this.#i32[A_SLOTS] = slots;
    this.#i32[A_SLOT_BYTES] = geo.slotBytes;
    this.#i32[A_MIN] = this.minThreads;
    this.#i32[A_SPIN] = this.#policy.mode;

    this.#resolve = new Array(slots).fill(undefined);
    this.#reject = new Array(slots).fill(undefined);
    this.#signal = new Array(slots).fill(undefined);
    this.#onAbort = new Array(slots).fill(undefined);
    this.#submittedAt = new Float64Array(slots);
    this.#postedAt = new Float64Array(slots);
    this.#free = new Int32Array(slots);
    for (let i = 0; i < slots; i++) this.#free[i] = slots - 1 - i; // slot 0 on top
    this.#freeTop = slots;

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
    if (this.#workers.size < this.threads) this.#grow();
    return true;
  }

  /** Below `threads` (idle ones retired): start one more if no thread is waiting for work. */
  #grow(): void {
    if (this.#state !== State.Open || this.#loadError !== undefined) return;
    if (this.#taskPort.stats().waiting === 0) this.#spawn();
  }

  // ──────────────────────────────── run ────────────────────────────────

  /** Runs task on a pool thread; resolves with the handler's result, rejects with its error. */
  run(task: Task, options?: RunOptions): Promise<Result> {
    if (this.#state !== State.Open) {
      return Promise.reject(new PoolClosedError(`run() after ${this.#state === State.Closing ? 'close()' : 'destroy()'}: the pool takes no more tasks`));
    }
    if (this.#loadError !== undefined) return Promise.reject(this.#loadError);
    let signal: AbortSignal | undefined;
    let transferList: readonly TransferListItem[] | undefined;
    if (options !== undefined) {
      // Checked before anything is taken (a slot, a backlog place): a bad option leaks nothing.
      const bad = runOptionsError(options);
      if (bad !== undefined) return Promise.reject(bad);
      signal = options.signal;
      transferList = options.transferList;
      if (signal !== undefined && signal.aborted) {
        this.#failed++;
        return Promise.reject(new AbortError(signal.reason));
      }
    }
    if (this.maxQueue !== Infinity && this.#queuedTasks() >= this.maxQueue) return Promise.reject(new QueueFullError(this.maxQueue));
    if (!this.#refed) this.#refAll();
    if (this.#workers.size < this.threads) this.#grow();
    // Fast path: nothing waits ahead of us and a slot is free.
    if (this.#freeTop > 0 && this.#backlogHead === this.#backlog.length) {
      const slot = this.#free[--this.#freeTop]!;
      const promise = new Promise<Result>(capture);
      this.#resolve[slot] = capturedResolve;
      this.#reject[slot] = capturedReject;
      this.#submit(slot, task, signal, transferList);
      return promise;
    }
    const promise = new Promise<Result>(capture);
    const reject = capturedReject!;
    const entry: Backlogged = { task, signal, transferList, resolve: capturedResolve!, reject, onAbort: undefined, done: false };
    if (signal !== undefined) {
      entry.onAbort = () => {
        if (entry.done) return;
        entry.done = true; // the backlog skips it; it never takes a slot
        this.#failed++;
        reject(new AbortError(signal.reason));
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    this.#backlog.push(entry);
    return promise;
  }

  /** Tasks accepted and not yet started (maxQueue): backlog + posted − started − cancelled before starting. */
  #queuedTasks(): number {
    const inPort = (this.#posted - Atomics.load(this.#i32, A_STARTED) - this.#cancelled) | 0;
    return this.#backlog.length - this.#backlogHead + Math.max(0, inPort);
  }

  /** The slot is ours, its promise functions are set: write the task, post its packet. */
  #submit(slot: number, task: unknown, signal: AbortSignal | undefined, transferList: readonly TransferListItem[] | undefined): void {
    const i32 = this.#i32;
    const w = slotWord(this.#slotBytes, slot);
    let flags = 0;
    // From here the slot is in use; #release gives it back. The shared copy is a hint (plain store).
    i32[A_INFLIGHT] = ++this.#inflight;
    try {
      if (transferList !== undefined || this.#arena.encode(w, task) === TAG_FALLBACK) {
        i32[w + T_TAG] = TAG_FALLBACK;
        this.#fallback.set(slot, { task, transferList });
      }
    } catch (error) {
      // Not cloneable (a function…): fail now, in the caller's turn, like postMessage would.
      const reject = this.#reject[slot]!;
      this.#release(slot);
      reject(error);
      return;
    }
    if (signal !== undefined) {
      flags |= F_SIGNAL;
      this.#signal[slot] = signal;
      const onAbort = (): void => this.#abort(slot);
      this.#onAbort[slot] = onAbort;
      signal.addEventListener('abort', onAbort, { once: true });
    }
    // Timing costs two clock reads per task: sample all of the first 64, then one in 16.
    const n = this.#timedCount++;
    if (n < 64 || (n & 15) === 0) {
      flags |= F_TIMED;
      this.#submittedAt[slot] = performance.timeOrigin + performance.now();
    }
    i32[w + T_FLAGS] = flags;
    i32[w + T_TICKET] = this.#tickets = (this.#tickets + 1) | 0;
    // Few in flight: one-at-a-time territory, where the round trip is worth measuring (latency.ts).
    this.#postedAt[slot] = this.#inflight <= this.concurrency ? performance.now() : 0;
    Atomics.store(i32, w + T_STATE, QUEUED);
    // A full port (queueRequest filled it) cannot happen for slots alone: capacity ≥ slots + queueCapacity.
    if (!this.#taskPort.post(K_TASK, 0, slot)) throw new Error('iocp-pool: the task port is full despite its reserved capacity');
    this.#posted++;
    if (!this.#draining) {
      this.#draining = true;
      void this.#drain();
    }
  }

  /** Moves backlogged tasks into free slots, oldest first. */
  #pump(): void {
    const backlog = this.#backlog;
    while (this.#freeTop > 0 && this.#backlogHead < backlog.length && this.#state !== State.Destroyed) {
      const entry = backlog[this.#backlogHead]!;
      backlog[this.#backlogHead++] = undefined;
      if (entry.done) continue;
      entry.done = true;
      if (entry.onAbort !== undefined) entry.signal!.removeEventListener('abort', entry.onAbort);
      const slot = this.#free[--this.#freeTop]!;
      this.#resolve[slot] = entry.resolve;
      this.#reject[slot] = entry.reject;
      this.#submit(slot, entry.task, entry.signal, entry.transferList);
    }
    if (this.#backlogHead === backlog.length) {
      backlog.length = 0;
      this.#backlogHead = 0;
    } else if (this.#backlogHead > 4096 && this.#backlogHead * 2 > backlog.length) {
      backlog.splice(0, this.#backlogHead);
      this.#backlogHead = 0;
    }
    if (this.#state === State.Closing) this.#postSentinels();
  }

  // ─────────────────────────────── drain ───────────────────────────────

  /**
   * The result loop: runs while slots are in use. One getAsync wake-up, then
   * getMany(…, 0) for everything that queued meanwhile; resolves the whole
   * batch, lets the callers' continuations run (they submit more), repeats.
   */
  async #drain(): Promise<void> {
    const port = this.#resultPort;
    let lastYield = performance.now();
    try {
      while (this.#inflight > 0) {
        // Read the result counter before looking, so a result posted right after the look is not missed by the spin.
        const seq = Atomics.load(this.#i32, A_RESULTS);
        let batch: CompletionPacket[] = port.getMany(DRAIN_BATCH, 0);
        if (batch.length === 0) {
          if (this.#spin(seq)) continue;
          const first = await port.getAsync();
          if (first === null) continue;
          this.#complete(first);
          batch = port.getMany(DRAIN_BATCH, 0);
        }
        for (let i = 0; i < batch.length; i++) this.#complete(batch[i]!);
        this.#pump();
        const now = performance.now();
        if (now - lastYield > YIELD_MS) {
          // A long stream of results must not starve timers and I/O.
          await new Promise<void>((resolve) => setImmediate(resolve));
          lastYield = performance.now();
        } else {
          // One microtask turn: the callers' continuations (queued by the resolves above) run first.
          await undefined;
        }
      }
    } catch (error) {
      // Closed: the pool is ending (destroy, a failed module, the end of close) — nothing more comes.
      if (!(error instanceof PortClosedError)) throw error;
    } finally {
      this.#draining = false;
    }
    this.#armIdle();
  }

  /**
   * A short, bounded spin for a result that should arrive within
   * microseconds — cheaper than a getAsync wake-up (~20 µs) when one task
   * at a time goes back and forth. Only when few tasks are in flight; its
   * budget adapts (see #spinBudget), so long tasks cost a short probe each.
   */
  #spin(seq: number): boolean {
    if (this.#inflight > this.concurrency || this.#policy.mode === 0) return false;
    const i32 = this.#i32;
    const budget = this.#spinBudget;
    const deadline = performance.now() + budget;
    for (;;) {
      for (let i = 0; i < 64; i++) {
        if (Atomics.load(i32, A_RESULTS) !== seq) {
          // Paid off: allow longer spins again.
          this.#spinBudget = Math.min(SPIN_MAX_MS, budget * 2);
          return true;
        }
      }
      if (performance.now() > deadline) {
        // Wasted: halve the next spin. Long tasks, or a loaded machine where spinning only
        // takes the core from the thread we wait for, drive it down to a cheap probe.
        this.#spinBudget = Math.max(SPIN_MIN_MS, budget / 2);
        return false;
      }
    }
  }


  /** One result packet: (status, workerId, slot). */
  #complete(packet: CompletionPacket): void {
    const slot = packet.overlapped;
    // A4: the index came from shared memory.
    if (slot >>> 0 !== slot || slot >= this.#slots) {
      this.emit('error', new RangeError(`result packet names slot ${slot} of ${this.#slots}`));
      return;
    }
    const status = packet.bytesTransferred;
    if (this.#reject[slot] === undefined && status !== R_CANCELLED) return; // already settled (destroy, a dead thread)
    const w = slotWord(this.#slotBytes, slot);
    const i32 = this.#i32;
    if ((i32[w + T_FLAGS]! & F_TIMED) !== 0) {
      const f = w >> 1;
      const start = this.#arena.f64[f + T_START]!;
      this.#waitTime.add(Math.max(0, start - this.#submittedAt[slot]!));
      this.#runTime.add(this.#arena.f64[f + T_RUN]!);
    }
    const postedAt = this.#postedAt[slot]!;
    if (postedAt !== 0 && this.#policy.sample(performance.now() - postedAt)) i32[A_SPIN] = this.#policy.mode;
    const resolve = this.#resolve[slot];
    const reject = this.#reject[slot];
    let value: unknown;
    let ok: boolean;
    try {
      switch (status) {
        case R_OK:
          value = this.#arena.decode(w);
          ok = true;
          break;
        case R_ERROR:
          value = recordToError(this.#arena.decode(w));
          ok = false;
          break;
        case R_OK_MESSAGE:
        case R_ERROR_MESSAGE:
          value = this.#fallbackResult(packet.completionKey, slot);
          if (status === R_ERROR_MESSAGE || isErrorRecord(value)) value = recordToError(value);
          ok = status === R_OK_MESSAGE;
          break;
        case R_CANCELLED:
          this.#release(slot);
          return;
        default:
          throw new RangeError(`result packet has status ${status}`);
      }
    } catch (error) {
      value = error;
      ok = false;
    }
    this.#release(slot);
    if (ok) {
      this.#completed++;
      resolve!(value);
    } else {
      this.#failed++;
      reject!(value);
    }
  }

  /** A result too large for its slot: the worker sent it on its result channel before posting the packet. */
  #fallbackResult(workerId: number, slot: number): unknown {
    const record = this.#workers.get(workerId) ?? this.#exited.get(workerId);
    if (record === undefined) throw new WorkerDiedError(`the result of this task was lost with its thread (${workerId})`);
    const received = receiveMessageOnPort(record.resultChannel);
    const message = received?.message as FallbackResult | undefined;
    if (message === undefined || message.slot !== slot) throw new Error(`iocp-pool: fallback result for slot ${slot} is missing`);
    return message.value;
  }

  /** The slot is done: forget its promise and signal, give it back. */
  #release(slot: number): void {
    const signal = this.#signal[slot];
    if (signal !== undefined) {
      signal.removeEventListener('abort', this.#onAbort[slot]!);
      this.#signal[slot] = undefined;
      this.#onAbort[slot] = undefined;
    }
    this.#resolve[slot] = undefined;
    this.#reject[slot] = undefined;
    if (this.#fallback.size !== 0) this.#fallback.delete(slot);
    Atomics.store(this.#i32, slotWord(this.#slotBytes, slot) + T_STATE, FREE);
    this.#free[this.#freeTop++] = slot;
    this.#i32[A_INFLIGHT] = --this.#inflight;
  }

  /** signal aborted for the task in slot. A2: one CAS against the worker's QUEUED → RUNNING. */
  #abort(slot: number): void {
    const i32 = this.#i32;
    const w = slotWord(this.#slotBytes, slot);
    const reject = this.#reject[slot];
    if (reject === undefined) return;
    const signal = this.#signal[slot]!;
    if (Atomics.compareExchange(i32, w + T_STATE, QUEUED, CANCELLED) === QUEUED) {
      // Never ran and never will: reject now; the slot is freed when a thread acknowledges the packet.
      this.#cancelled++;
      this.#resolve[slot] = undefined;
      this.#reject[slot] = undefined;
      this.#failed++;
      reject(new AbortError(signal.reason));
      return;
    }
    if (Atomics.load(i32, w + T_STATE) === RUNNING) {
      // Running: the handler sees its signal abort; run() settles with what the handler does.
      const record = this.#workers.get(i32[w + T_OWNER]!);
      // The ticket names this task: by the time the message arrives the slot may hold another.
      record?.worker.postMessage({ type: 'abort', slot, ticket: i32[w + T_TICKET]! } satisfies ToWorker);
    }
  }

  // ───────────────────────────── threads ─────────────────────────────

  #spawn(): void {
    const id = this.#nextWorkerId++;
    const { port1, port2 } = new MessageChannel();
    const data: PoolWorkerData = {
      __iocpPool: true,
      filename: this.#filename,
      taskPort: this.#taskPort.handle,
      resultPort: this.#resultPort.handle,
      arena: this.#arena.buffer,
      slots: this.#slots,
      slotBytes: this.#slotBytes,
      workerId: id,
      resultChannel: port2,
      spinCount: this.#spinCount,
      idleTimeout: this.#idleTimeout,
      queueCapacity: this.#queueCapacity,
      workerData: this.#options.workerData,
    };
    const worker = new Worker(WORKER_URL, {
      workerData: data,
      transferList: [port2],
      resourceLimits: this.#options.resourceLimits,
    });
    const record: WorkerRecord = {
      id,
      worker,
      threadId: worker.threadId,
      resultChannel: port1,
      error: undefined,
      ready: false,
      calls: new Map(),
      terminating: false,
      readyAt: 0,
    };
    this.#workers.set(id, record);
    Atomics.add(this.#i32, A_LIVE, 1);
    worker.on('message', (message: FromWorker) => this.#onMessage(record, message));
    worker.on('error', (error) => {
      record.error = error;
    });
    worker.on('exit', (code) => this.#onExit(record, code));
    if (!this.#refed) worker.unref();
  }

  #onMessage(record: WorkerRecord, message: FromWorker): void {
    switch (message.type) {
      case 'ready':
        record.ready = true;
        record.readyAt = performance.now();
        this.#isReady = true;
        this.#readyResolve();
        break;
      case 'load-error': {
        const cause = recordToError(message.error) as Error;
        this.#fail(new WorkerLoadError(cause?.message ?? String(cause), cause));
        break;
      }
      case 'fetch': {
        const slot = message.slot;
        const payload = this.#fallback.get(slot);
        this.#fallback.delete(slot);
        try {
          record.worker.postMessage({ type: 'payload', slot, task: payload?.task } satisfies ToWorker, payload?.transferList as TransferListItem[] | undefined);
        } catch (error) {
          // Not cloneable or not transferable: the task fails with why, on the thread that took it.
          record.worker.postMessage({ type: 'payload', slot, error: errorToRecord(error) } satisfies ToWorker);
        }
        break;
      }
      case 'request-error': {
        this.#failed++;
        this.#requestFailed++;
        const error = recordToError(message.error);
        if (this.listenerCount('error') > 0) {
          this.emit('error', error, message.wParam);
        } else {
          // Never lost, never a silent crash: with no 'error' listener it is a process warning.
          process.emitWarning(
            `queueRequest(${message.wParam}) handler failed and the pool has no 'error' listener: ${(error as Error)?.stack ?? String(error)}`,
            { code: 'IOCP_POOL_REQUEST_ERROR' },
          );
        }
        break;
      }
      case 'run': {
        // currentPool().run() from a worker: run it like any task, answer by message.
        const controller = message.hasSignal ? new AbortController() : undefined;
        record.calls.set(message.id, controller);
        this.run(message.task as Task, controller === undefined ? undefined : { signal: controller.signal }).then(
          (value) => this.#answer(record, message.id, true, value),
          (error: unknown) => this.#answer(record, message.id, false, error),
        );
        break;
      }
      case 'abort-run':
        record.calls.get(message.id)?.abort();
        break;
    }
  }

  #answer(record: WorkerRecord, id: number, ok: boolean, value: unknown): void {
    record.calls.delete(id);
    if (!this.#workers.has(record.id)) return;
    const out = ok ? value : errorToRecord(value);
    try {
      record.worker.postMessage({ type: 'run-result', id, ok, value: out } satisfies ToWorker);
    } catch (error) {
      record.worker.postMessage({ type: 'run-result', id, ok: false, value: errorToRecord(error) } satisfies ToWorker);
    }
  }

  #onExit(record: WorkerRecord, code: number): void {
    this.#workers.delete(record.id);
    this.#exited.set(record.id, record);
    if (this.#exited.size > 64) this.#exited.delete(this.#exited.keys().next().value!);
    // Give back whatever the dead thread held on the ports: running slots, waiter places, a handed packet.
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
    if (this.#workers.size === 0 && this.#state === State.Closing) void this.#finishClose();
    else if (code === EXIT_RETIRED) this.#afterRetirement();
  }

  /**
   * A thread retired (idle above minThreads). A run() or queueRequest that came while it was
   * leaving saw it alive and started no thread; now that it is gone, start one if work waits
   * and no thread is waiting for it.
   */
  #afterRetirement(): void {
    if (this.#state !== State.Open || this.#loadError !== undefined || this.#workers.size >= this.threads) return;
    const requests = ((Atomics.load(this.#i32, A_REQ_POSTED) - Atomics.load(this.#i32, A_REQ_TAKEN)) | 0) > 0;
    if (this.#inflight > 0 || requests || this.#backlogHead !== this.#backlog.length) this.#grow();
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
    const failed = this.#failOwned(record.id, () => new WorkerDiedError(`the pool thread running this task died of ${why}`, cause));
    if (failed === 0 && performance.now() - record.readyAt < EARLY_DEATH_MS) {
      // Died idle, right after it started: a module that kills every thread it runs in (a timer
      // that throws at load…). Replacing such threads forever would be a spawn loop.
      if (++this.#earlyDeaths >= EARLY_DEATHS) {
        this.#fail(
          new WorkerLoadError(
            `worker module ${this.#filename} cannot run: ${EARLY_DEATHS} pool threads in a row died of ${why} within ${EARLY_DEATH_MS} ms of starting, so the pool stopped replacing them`,
            cause,
          ),
        );
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
      replaced = outstanding > this.#workers.size || this.#sentinelsPosted === 0;
    }
    if (replaced) this.#spawn();
    if (failed === 0) {
      // No run() carried the news (the thread was idle or in a queueRequest handler): not silently.
      this.#report(new WorkerDiedError(`a pool thread died of ${why}${replaced ? ' and was replaced' : ''}`, cause), 'IOCP_POOL_WORKER_DIED');
    }
  }

  /** To the 'error' listeners, or — never lost, never a silent crash — a process warning. */
  #report(error: Error, code: string, ...args: unknown[]): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error, ...args);
      return;
    }
    const cause = (error as Error & { cause?: unknown }).cause;
    process.emitWarning(`${error.message}${cause instanceof Error ? `: ${cause.stack}` : ''}`, { code });
  }

  /** Rejects every task that thread `owner` had started (A_STARTED or fetching). */
  #failOwned(owner: number, makeError: () => Error): number {
    const i32 = this.#i32;
    let failed = 0;
    for (let slot = 0; slot < this.#slots; slot++) {
      const w = slotWord(this.#slotBytes, slot);
      if (Atomics.load(i32, w + T_STATE) !== RUNNING || i32[w + T_OWNER] !== owner) continue;
      const reject = this.#reject[slot];
      if (reject === undefined) continue;
      this.#release(slot);
      this.#failed++;
      failed++;
      reject(makeError());
    }
    if (this.#inflight === 0) this.#armIdle();
    this.#pump();
    return failed;
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
   * a long backlog), the ports close (waiters leave with PortClosedError, the drain loop ends),
   * and every thread is terminated; their exits are expected, so none is reported or replaced.
   */
  #stopAll(error: Error, reportRequests: boolean): void {
    this.#rejectAll(error);
    const leftover = this.#closePorts();
    if (reportRequests) this.#reportUnhandled(leftover, 'the close deadline passed before a thread took them');
    for (const record of this.#workers.values()) {
      record.terminating = true;
      void record.worker.terminate();
    }
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

  /**
   * Rejects every pending task with `error` and forgets the slots. Called only once no thread
   * will touch the arena again (all exited, or all being terminated): no acknowledgement is
   * awaited for a slot, so slots still waiting for one are forgotten too.
   */
  #rejectAll(error: Error): void {
    for (let slot = 0; slot < this.#slots; slot++) {
      const reject = this.#reject[slot];
      if (reject === undefined) continue;
      this.#release(slot);
      this.#failed++;
      reject(error);
    }
    this.#inflight = 0;
    this.#i32[A_INFLIGHT] = 0;
    const backlog = this.#backlog;
    for (let i = this.#backlogHead; i < backlog.length; i++) {
      const entry = backlog[i];
      if (entry === undefined || entry.done) continue;
      entry.done = true;
      if (entry.onAbort !== undefined) entry.signal!.removeEventListener('abort', entry.onAbort);
      this.#failed++;
      entry.reject(error);
    }
    backlog.length = 0;
    this.#backlogHead = 0;
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
      if (this.#workers.size === 0) void this.#finishClose();
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
      if (this.#state !== State.Closing || this.#workers.size === 0) return;
      this.#stopAll(new PoolClosedError(`the close() deadline of ${timeout} ms passed before this task finished: its thread was stopped`), true);
    }, timeout);
  }

  /** Sentinels go after the backlog: only once every run() accepted before close() has its packet posted. */
  #postSentinels(): void {
    if (this.#sentinelsPosted !== 0 || this.#backlogHead !== this.#backlog.length || this.#loadError !== undefined) return;
    const n = this.#workers.size;
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
    // already handed to the drain loop's getAsync arrives on a later turn, so give it a few.
    for (let turn = 0; turn < 100 && this.#inflight > 0; turn++) {
      try {
        for (;;) {
          const batch = this.#resultPort.getMany(DRAIN_BATCH, 0);
          if (batch.length === 0) break;
          for (const packet of batch) this.#complete(packet);
        }
      } catch {
        break; /* closed */
      }
      if (this.#inflight > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#rejectAll(new PoolClosedError('the pool closed before this task ran'));
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
    await this.#allExited();
    this.#closedResolve?.();
  }

  #allExited(): Promise<void> {
    const pending = [...this.#workers.values()].map((r) => new Promise<void>((resolve) => r.worker.once('exit', () => resolve())));
    return Promise.all(pending).then(() => undefined);
  }

  // ───────────────────────── keep-alive policy ─────────────────────────

  /** Work exists: the threads keep the process alive. */
  #refAll(): void {
    this.#refed = true;
    for (const record of this.#workers.values()) record.worker.ref();
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
      if ((this.#isReady || this.#loadError !== undefined) && this.#inflight === 0 && this.#backlogHead === this.#backlog.length && requestsIdle) {
        this.#refed = false;
        for (const record of this.#workers.values()) record.worker.unref();
      } else {
        this.#armIdle();
      }
    }, 50);
    this.#idleTimer.unref();
  }

  // ─────────────────────────────── stats ───────────────────────────────

  stats(): ThreadPoolStats {
    const port = this.#taskPort.stats();
    return {
      threads: this.#workers.size,
      running: port.running,
      waiting: port.waiting,
      queued: port.queued + (this.#backlog.length - this.#backlogHead),
      completed: this.#completed + ((Atomics.load(this.#i32, A_REQUESTS) >>> 0) - this.#requestFailed),
      failed: this.#failed,
      runTime: this.#runTime.percentiles(),
      waitTime: this.#waitTime.percentiles(),
    };
  }
}
