/**
 * The pool's threads as the main thread sees them: starting them, what they
 * say outside shared memory (protocol.ts: start-up, payloads too large for a
 * slot, errors of queueRequest handlers, run() from inside a thread), and
 * ending them. What an exit means for the pool is the pool's decision: every
 * exit goes to ThreadEvents.exit. What it knows of each thread is its record
 * (worker-record.ts, with the view pool.threadInfo() lists).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type TransferListItem, Worker, type WorkerOptions } from 'node:worker_threads';
import { type ProgressSink, ResultChannel } from './channel.js';
import { cloneError, errorToRecord, recordToError, type ThrownRecord } from '../../codec/error-record.js';
import type { Carried } from '../../codec/carried.js';
import { runtimeSource } from './runtime-source.js';
import { WorkerDiedError } from '../errors.js';
import type { HeapKeeper } from './heap-keeper.js';
import {
  EXIT_PORT_CLOSED,
  EXIT_RECYCLED,
  EXIT_RETIRED,
  EXIT_SENTINEL,
  type FromWorker,
  type PoolWorkerData,
  PROTOCOL,
  type ToWorker,
} from '../protocol.js';
import type { PoolThread } from '../types.js';
import { newRecord, threadView, type WorkerRecord } from './worker-record.js';

/** A broadcast() answer from a thread that left in order before it ran it: left out of the results. */
export const LEFT: unique symbol = Symbol('left');

/** How long a thread asked to stop (a timeout) has to leave by itself before it is terminated (ms). */
const STOP_WAIT_MS = 250;

/** Exit codes of orderly exits (protocol.ts); any other is a death. */
const ORDERLY = new Set([EXIT_SENTINEL, EXIT_RETIRED, EXIT_PORT_CLOSED, EXIT_RECYCLED]);

/**
 * Where threads start: dist/iocp-pool-thread.mjs when it is next to this file (the package as installed),
 * else — this file was bundled into an application, without it — the copy of the runtime inlined
 * at build time (./runtime-source.ts), run as a CommonJS script. Decided once.
 */
let onDisk: URL | null | undefined;
function entry(native: boolean): { filename: string | URL; eval: boolean } {
  if (onDisk === undefined) {
    onDisk = null;
    try {
      // The built worker runtime, next to this file in dist/. (A bundler may leave import.meta.url
      // undefined: a CommonJS bundle of this ES module.)
      const url = new URL('./iocp-pool-thread.mjs', import.meta.url);
      if (url.protocol === 'file:' && existsSync(fileURLToPath(url))) onDisk = url;
    } catch {
      onDisk = null;
    }
  }
  return onDisk !== null ? { filename: onDisk, eval: false } : { filename: runtimeSource(native), eval: true };
}

/** What the pool hears from its threads. */
export interface ThreadEvents {
  ready(record: WorkerRecord): void;
  /** The worker module cannot be used in this thread: it did not load, exports no handler, or (`setup`) its setup() threw. */
  loadError(record: WorkerRecord, cause: Error, setup: boolean): void;
  /** A queueRequest handler threw (or rejected). */
  requestError(wParam: number, error: unknown): void;
  /** currentPool().run() from a thread: run it as any task. */
  run(task: unknown, signal: AbortSignal | undefined): Promise<unknown>;
  /** A handler posted `value` on parentPort itself (not a message of the pool's own protocol). */
  message(record: WorkerRecord, value: unknown): void;
  /** The module's teardown() threw (or rejected) as the thread left. */
  teardownError(record: WorkerRecord, error: unknown): void;
  /** The thread took the task in `slot`, whose payload travels by message: what to send it (once). */
  payload(slot: number): { task: Carried; transferList: readonly TransferListItem[] | undefined } | undefined;
  /** A progress value from the thread running the task with `ticket` in `slot`. */
  progress(slot: number, ticket: number, value: unknown): void;
  exit(record: WorkerRecord, code: number): void;
}

/** What every thread of the pool gets in its workerData, but for its own id and result channel. */
export type SharedWorkerData = Omit<PoolWorkerData, 'workerId' | 'resultChannel'>;

export class ThreadSet {
  readonly live = new Map<number, WorkerRecord>();
  /** Recently exited threads, for a fallback result still in flight when its thread retired. */
  readonly #exited = new Map<number, WorkerRecord>();
  #nextId = 1;
  readonly #data: SharedWorkerData;
  readonly #options: WorkerOptions;
  readonly #heap: HeapKeeper;
  #events: ThreadEvents | undefined;
  readonly #progress: ProgressSink;
  #nextBroadcast = 1;
  /** Threads alive that have not loaded the module yet (the pool's start policy counts them as idle). */
  #starting = 0;
  /** The keep-alive policy's last word: ref() (true) or unref() (false). */
  #refed = true;

  constructor(data: SharedWorkerData, options: WorkerOptions, heap: HeapKeeper) {
    this.#data = data;
    this.#options = options;
    this.#heap = heap;
    this.#progress = (slot, ticket, value) => this.#events!.progress(slot, ticket, value);
  }

  /** Who hears what the threads say (the pool, once all its parts exist): before the first spawn(). */
  listen(events: ThreadEvents): void {
    this.#events = events;
  }

  get size(): number {
    return this.live.size;
  }

  /** Threads alive that have not loaded the module yet. */
  get startingCount(): number {
    return this.#starting;
  }

  /** The threads alive, as pool.threadInfo() lists them (the same object for a thread each time). */
  list(): PoolThread[] {
    const out: PoolThread[] = [];
    for (const record of this.live.values()) out.push((record.info ??= threadView(record, () => this.#refed)));
    return out;
  }

  /** Starts a thread; `refed`: whether it keeps the process alive (see the pool's keep-alive policy). */
  spawn(refed: boolean): WorkerRecord {
    const id = this.#nextId++;
    const { port1, port2 } = new MessageChannel();
    const workerData: PoolWorkerData = { ...this.#data, workerId: id, resultChannel: port2 };
    const { filename, eval: evaluate } = entry(this.#data.taskPort.backend === 'native');
    const worker = new Worker(filename, { ...this.#options, eval: evaluate, workerData, transferList: [port2] });
    const record = newRecord(id, worker, new ResultChannel(port1, this.#progress));
    if (this.#listening) record.resultChannel.listen();
    this.live.set(id, record);
    this.#starting++;
    worker.on('message', (message: FromWorker | unknown) => {
      if (message !== null && typeof message === 'object' && (message as { [PROTOCOL]?: unknown })[PROTOCOL] === true) {
        this.#onMessage(record, message as FromWorker);
      } else {
        this.#events!.message(record, message);
      }
    });
    worker.on('error', (error) => {
      record.error = error;
    });
    worker.on('exit', (code) => {
      this.live.delete(record.id);
      if (!record.loaded) this.#starting--;
      record.markReady(); // whoever waits for it being ready stops waiting
      // An exit before it answered a broadcast: left out if it left in order, an error if it died.
      const orderly = record.terminating || ORDERLY.has(code);
      for (const call of record.broadcasts.values()) {
        if (orderly) call.resolve(LEFT);
        else call.reject(new WorkerDiedError(`a pool thread died (exit code ${code}) before it ran the broadcast`, record.error, code));
      }
      record.broadcasts.clear();
      this.#exited.set(record.id, record);
      if (this.#exited.size > 64) this.#exited.delete(this.#exited.keys().next().value!);
      this.#events!.exit(record, code);
    });
    if (!refed) worker.unref();
    return record;
  }

  /** The result channel of thread `id`, alive or recently exited. */
  resultChannel(id: number): ResultChannel | undefined {
    return (this.live.get(id) ?? this.#exited.get(id))?.resultChannel;
  }

  /** A task wants progress: from now on every thread's channel delivers it as it comes. */
  listenForProgress(): void {
    if (this.#listening) return;
    this.#listening = true;
    for (const record of this.live.values()) record.resultChannel.listen();
  }
  #listening = false;

  /** Runs `task` once on each thread alive now (the `name` export, or the default handler). */
  broadcast(task: unknown, name: string | undefined): Promise<unknown>[] {
    const id = this.#nextBroadcast++;
    return [...this.live.values()]
      .filter((record) => !record.terminating)
      .map(
        (record) =>
          new Promise<unknown>((resolve, reject) => {
            record.broadcasts.set(id, { resolve, reject });
            record.worker.postMessage({ type: 'broadcast', id, task, name } satisfies ToWorker);
          }),
      );
  }

  /** Asks every thread alive now to leave when it can and be replaced. */
  recycle(): WorkerRecord[] {
    const records = [...this.live.values()].filter((record) => !record.terminating);
    for (const record of records) record.worker.postMessage({ type: 'recycle' } satisfies ToWorker);
    return records;
  }

  /**
   * A heap release round: every thread collects its objects for retired segments (between tasks,
   * on its event loop) and answers 'heap-released'. Returns the threadIds of every thread alive,
   * those being terminated included: the round waits for their answer or their exit.
   */
  heapRelease(): number[] {
    for (const record of this.live.values()) if (!record.terminating) record.worker.postMessage({ type: 'heap-release' } satisfies ToWorker);
    return [...this.live.values()].map((record) => record.threadId);
  }

  /** Terminates one thread that could not start (its setup() failed): its exit is expected, never reported as a death. */
  stopUnstarted(record: WorkerRecord): void {
    if (record.terminating) return;
    record.terminating = true;
    void record.worker.terminate();
  }

  /** Threads still starting (alive, not yet ready, not being stopped), but `except`. */
  starting(except: WorkerRecord): number {
    let n = 0;
    for (const record of this.live.values()) if (record !== except && !record.loaded && !record.terminating) n++;
    return n;
  }

  /**
   * Stops one thread whose task ran past its timeout; its exit is a death (its other tasks fail).
   * It is asked first, and leaves from its event loop (between two port calls); only a thread
   * that does not within STOP_WAIT_MS — stuck in a handler, so in no port call either — is
   * terminated. A thread terminated at a random instant may die holding a port's lock, which
   * blocks the main thread's next port call until that thread's exit is handled: on this
   * thread's event loop, which the blocked call holds (docs/port.md, "Limits").
   */
  stopForTimeout(id: number): void {
    const record = this.live.get(id);
    if (record === undefined || record.terminating || record.timedOut) return;
    record.timedOut = true;
    record.worker.postMessage({ type: 'stop' } satisfies ToWorker);
    const timer = setTimeout(() => {
      if (this.live.has(record.id)) void record.worker.terminate();
    }, STOP_WAIT_MS);
    timer.unref();
    record.worker.once('exit', () => clearTimeout(timer));
  }

  /** Tells thread `owner` that the task with `ticket` in `slot` was aborted (or ran past its timeout). */
  abort(owner: number, slot: number, ticket: number, timeout: boolean): void {
    this.live.get(owner)?.worker.postMessage({ type: 'abort', slot, ticket, timeout } satisfies ToWorker);
  }

  /** Terminates every thread; their exits are expected (never reported or replaced). */
  terminateAll(): void {
    for (const record of this.live.values()) {
      record.terminating = true;
      void record.worker.terminate();
    }
  }

  ref(): void {
    this.#refed = true;
    for (const record of this.live.values()) record.worker.ref();
  }

  /** The pool lets the process exit: every thread but those the application pinned (PoolThread.ref()). */
  unref(): void {
    this.#refed = false;
    for (const record of this.live.values()) if (!record.pinned) record.worker.unref();
  }

  /** Resolves when every thread alive now has exited. */
  allExited(): Promise<void> {
    const pending = [...this.live.values()].map((r) => new Promise<void>((resolve) => r.worker.once('exit', () => resolve())));
    return Promise.all(pending).then(() => undefined);
  }

  #onMessage(record: WorkerRecord, message: FromWorker): void {
    switch (message.type) {
      case 'heap-hello':
        // The thread has subscribed to the heap's channel: every segment it may have missed is in
        // this thread's grants, taken now (see heap/heap.ts, "joining").
        record.worker.postMessage({ type: 'heap-grants', grants: this.#heap.grants() } satisfies ToWorker);
        break;
      case 'heap-released':
        this.#heap.released(record.threadId, message.held);
        break;
      case 'heap-retired':
        this.#heap.releaseRound();
        break;
      case 'working':
        record.working = true;
        break;
      case 'ready':
        if (!record.loaded) this.#starting--;
        record.loaded = true;
        record.readyAt = performance.now();
        record.markReady();
        this.#events!.ready(record);
        break;
      case 'load-error': {
        const cause = recordToError(message.error) as Error;
        this.#events!.loadError(record, cause, message.setup);
        break;
      }
      case 'fetch': {
        // The thread took a task whose payload travels by message: send it.
        const slot = message.slot;
        const payload = this.#events!.payload(slot);
        try {
          record.worker.postMessage(
            { type: 'payload', slot, task: payload?.task } satisfies ToWorker,
            payload?.transferList as TransferListItem[] | undefined,
          );
        } catch (error) {
          // Not cloneable or not transferable: the task fails with why, on the thread that took it.
          const why = cloneError("run()'s task (its first argument)", error);
          record.worker.postMessage({ type: 'payload', slot, error: errorToRecord(why) } satisfies ToWorker);
        }
        break;
      }
      case 'request-error':
        this.#events!.requestError(message.wParam, recordToError(message.error));
        break;
      case 'teardown-error':
        this.#events!.teardownError(record, recordToError(message.error));
        break;
      case 'broadcast-result': {
        const call = record.broadcasts.get(message.id);
        record.broadcasts.delete(message.id);
        if (message.ok) call?.resolve(message.value);
        else call?.reject(recordToError(message.value as ThrownRecord));
        break;
      }
      case 'run': {
        // currentPool().run() from a thread: run it like any task, answer by message.
        const controller = message.hasSignal ? new AbortController() : undefined;
        record.calls.set(message.id, controller);
        this.#events!.run(message.task, controller?.signal).then(
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
    if (!this.live.has(record.id)) return;
    const out = ok ? value : errorToRecord(value);
    try {
      record.worker.postMessage({ type: 'run-result', id, ok, value: out } satisfies ToWorker);
    } catch (error) {
      record.worker.postMessage({ type: 'run-result', id, ok: false, value: errorToRecord(error) } satisfies ToWorker);
    }
  }
}
