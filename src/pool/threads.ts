/**
 * The pool's threads as the main thread sees them: starting them, what they
 * say outside shared memory (protocol.ts: start-up, payloads too large for a
 * slot, errors of queueRequest handlers, run() from inside a thread), and
 * ending them. What an exit means for the pool is the pool's decision: every
 * exit goes to ThreadEvents.exit.
 */
import { MessageChannel, type MessagePort, type TransferListItem, Worker, type WorkerOptions } from 'node:worker_threads';
import { errorToRecord, recordToError } from './codec.js';
import type { FromWorker, PoolWorkerData, ToWorker } from './protocol.js';
import type { TaskTable } from './tasks.js';

/** The built worker runtime, next to this bundle in dist/. */
const WORKER_URL = new URL('./worker.js', import.meta.url);

export interface WorkerRecord {
  id: number;
  worker: Worker;
  threadId: number;
  resultChannel: MessagePort;
  /** Why it died, when an 'error' event said so. */
  error: unknown;
  /** It loaded the worker module. */
  ready: boolean;
  /** performance.now() when it said it was ready (0: not yet). */
  readyAt: number;
  /** The pool terminated it (load failure, destroy(), a close deadline): its exit is expected, never replaced or reported. */
  terminating: boolean;
  /** run() calls this thread made through currentPool().run(), by its call id. */
  calls: Map<number, AbortController | undefined>;
}

/** What the pool hears from its threads. */
export interface ThreadEvents {
  ready(record: WorkerRecord): void;
  /** The worker module cannot be used: it did not load, or exports no handler. */
  loadError(record: WorkerRecord, cause: Error): void;
  /** A queueRequest handler threw (or rejected). */
  requestError(wParam: number, error: unknown): void;
  /** currentPool().run() from a thread: run it as any task. */
  run(task: unknown, signal: AbortSignal | undefined): Promise<unknown>;
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
  readonly #tasks: TaskTable;
  readonly #events: ThreadEvents;

  constructor(data: SharedWorkerData, options: WorkerOptions, tasks: TaskTable, events: ThreadEvents) {
    this.#data = data;
    this.#options = options;
    this.#tasks = tasks;
    this.#events = events;
  }

  get size(): number {
    return this.live.size;
  }

  /** Starts a thread; `refed`: whether it keeps the process alive (see the pool's keep-alive policy). */
  spawn(refed: boolean): WorkerRecord {
    const id = this.#nextId++;
    const { port1, port2 } = new MessageChannel();
    const workerData: PoolWorkerData = { ...this.#data, workerId: id, resultChannel: port2 };
    const worker = new Worker(WORKER_URL, { ...this.#options, workerData, transferList: [port2] });
    const record: WorkerRecord = {
      id,
      worker,
      threadId: worker.threadId,
      resultChannel: port1,
      error: undefined,
      ready: false,
      readyAt: 0,
      terminating: false,
      calls: new Map(),
    };
    this.live.set(id, record);
    worker.on('message', (message: FromWorker) => this.#onMessage(record, message));
    worker.on('error', (error) => {
      record.error = error;
    });
    worker.on('exit', (code) => {
      this.live.delete(record.id);
      this.#exited.set(record.id, record);
      if (this.#exited.size > 64) this.#exited.delete(this.#exited.keys().next().value!);
      this.#events.exit(record, code);
    });
    if (!refed) worker.unref();
    return record;
  }

  /** The result channel of thread `id`, alive or recently exited. */
  resultChannel(id: number): MessagePort | undefined {
    return (this.live.get(id) ?? this.#exited.get(id))?.resultChannel;
  }

  /** Tells thread `owner` that the task with `ticket` in `slot` was aborted. */
  abort(owner: number, slot: number, ticket: number): void {
    this.live.get(owner)?.worker.postMessage({ type: 'abort', slot, ticket } satisfies ToWorker);
  }

  /** Terminates every thread; their exits are expected (never reported or replaced). */
  terminateAll(): void {
    for (const record of this.live.values()) {
      record.terminating = true;
      void record.worker.terminate();
    }
  }

  ref(): void {
    for (const record of this.live.values()) record.worker.ref();
  }

  unref(): void {
    for (const record of this.live.values()) record.worker.unref();
  }

  /** Resolves when every thread alive now has exited. */
  allExited(): Promise<void> {
    const pending = [...this.live.values()].map((r) => new Promise<void>((resolve) => r.worker.once('exit', () => resolve())));
    return Promise.all(pending).then(() => undefined);
  }

  #onMessage(record: WorkerRecord, message: FromWorker): void {
    switch (message.type) {
      case 'ready':
        record.ready = true;
        record.readyAt = performance.now();
        this.#events.ready(record);
        break;
      case 'load-error': {
        const cause = recordToError(message.error) as Error;
        this.#events.loadError(record, cause);
        break;
      }
      case 'fetch': {
        // The thread took a task whose payload travels by message: send it.
        const slot = message.slot;
        const payload = this.#tasks.fallback.get(slot);
        this.#tasks.fallback.delete(slot);
        try {
          record.worker.postMessage({ type: 'payload', slot, task: payload?.task } satisfies ToWorker, payload?.transferList as TransferListItem[] | undefined);
        } catch (error) {
          // Not cloneable or not transferable: the task fails with why, on the thread that took it.
          record.worker.postMessage({ type: 'payload', slot, error: errorToRecord(error) } satisfies ToWorker);
        }
        break;
      }
      case 'request-error':
        this.#events.requestError(message.wParam, recordToError(message.error));
        break;
      case 'run': {
        // currentPool().run() from a thread: run it like any task, answer by message.
        const controller = message.hasSignal ? new AbortController() : undefined;
        record.calls.set(message.id, controller);
        this.#events.run(message.task, controller?.signal).then(
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
