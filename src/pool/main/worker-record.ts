/**
 * One pool thread as the main thread knows it: its record (the Worker, its result channel, where
 * it is in its life, the calls and broadcasts it has not answered), and the view of it that
 * pool.threadInfo() hands out (PoolThread).
 *
 * Apart from main/threads.ts, which starts the threads and hears them: a record is plain state
 * that the thread set, the lifecycle and setup-retry.ts all read and write, and the view is the
 * one piece of it the application holds.
 */
import type { Worker } from 'node:worker_threads';
import type { PoolThread } from '../types.js';
import type { ResultChannel } from './channel.js';

export interface WorkerRecord {
  id: number;
  worker: Worker;
  threadId: number;
  resultChannel: ResultChannel;
  /** Why it died, when an 'error' event said so. */
  error: unknown;
  /** It loaded the worker module (and ran its setup()). */
  loaded: boolean;
  /** It took a packet (its 'working' message; delivered before its 'exit', which drains the port). */
  working: boolean;
  /** performance.now() when it said it was ready (0: not yet). */
  readyAt: number;
  /** The pool terminated it (load failure, destroy(), a close deadline): its exit is expected, never replaced or reported. */
  terminating: boolean;
  /** run() calls this thread made through currentPool().run(), by its call id. */
  calls: Map<number, AbortController | undefined>;
  /** The pool terminated it because a task on it ran past its timeout: a death, reported as such. */
  timedOut: boolean;
  /** broadcast() calls it has not answered yet, by id. */
  broadcasts: Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>;
  /** Resolves when it is ready (never rejects: a thread that never gets ready exits). */
  ready: Promise<void>;
  markReady: () => void;
  /** The thread started in its place when it left to be recycled. */
  replacement: WorkerRecord | undefined;
  /** The application asked it to keep the process alive (PoolThread.ref()): the pool's keep-alive policy leaves it ref'd. */
  pinned: boolean;
  /** What pool.threadInfo() lists for it (made on first use). */
  info: PoolThread | undefined;
}

/** The record of a thread just started: not loaded, not ready (`ready` resolves at markReady()). */
export function newRecord(id: number, worker: Worker, resultChannel: ResultChannel): WorkerRecord {
  const record: WorkerRecord = {
    id,
    worker,
    threadId: worker.threadId,
    resultChannel,
    error: undefined,
    loaded: false,
    working: false,
    readyAt: 0,
    terminating: false,
    calls: new Map(),
    timedOut: false,
    broadcasts: new Map(),
    ready: Promise.resolve(),
    markReady: () => {},
    replacement: undefined,
    pinned: false,
    info: undefined,
  };
  record.ready = new Promise<void>((resolve) => {
    record.markReady = resolve;
  });
  return record;
}

/**
 * What pool.threadInfo() lists for `record` (frozen; the same object each time: the caller keeps
 * it in `record.info`). unref() unpins the thread, and unrefs it unless the pool's keep-alive
 * policy keeps every thread ref'd now (`refed()`).
 */
export function threadView(record: WorkerRecord, refed: () => boolean): PoolThread {
  return Object.freeze({
    threadId: record.threadId,
    workerId: record.id,
    get ready(): boolean {
      return record.loaded;
    },
    ref(): void {
      record.pinned = true;
      record.worker.ref();
    },
    unref(): void {
      record.pinned = false;
      if (!refed()) record.worker.unref();
    },
  });
}
