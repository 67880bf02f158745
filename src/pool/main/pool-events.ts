/**
 * What the pool tells its user about its threads: the events ('threadStart', 'message', 'error')
 * it emits for what main/threads.ts hears from them, and the reports of errors nobody asked for —
 * a queueRequest handler that threw, a teardown() that failed — which are never lost and never a
 * silent crash: to the pool's 'error' listeners, else a process warning.
 *
 * Apart from thread-pool.ts because none of it is on a task's path (a task's progress and
 * fallback payload only pass through to the task table), and the pool's public face reads
 * better without it.
 */
import type { EventEmitter } from 'node:events';
import { WorkerLoadError } from '../errors.js';
import type { Lifecycle } from './lifecycle.js';
import type { TaskTable } from './tasks.js';
import type { ThreadEvents } from './threads.js';

/** Where the pool's unasked-for errors go, and how many queueRequest handlers failed (for stats()). */
export class PoolReports {
  /** queueRequest handlers that failed (A_REQUESTS counts them among the handled). */
  requestFailed = 0;
  readonly #pool: EventEmitter;

  constructor(pool: EventEmitter) {
    this.#pool = pool;
  }

  /** To the pool's 'error' listeners, or — never lost, never a silent crash — a process warning with `code`. */
  report(error: Error, code: string): void {
    if (this.#pool.listenerCount('error') > 0) {
      this.#pool.emit('error', error);
      return;
    }
    const cause = (error as Error & { cause?: unknown }).cause;
    process.emitWarning(`${error.message}${cause instanceof Error ? `: ${cause.stack}` : ''}`, { code });
  }

  /** A queueRequest(wParam) handler failed: 'error' with the wParam, or a process warning. */
  requestError(wParam: number, error: unknown): void {
    this.requestFailed++;
    if (this.#pool.listenerCount('error') > 0) {
      this.#pool.emit('error', error, wParam);
    } else {
      // Never lost, never a silent crash: with no 'error' listener it is a process warning.
      process.emitWarning(
        `queueRequest(${wParam}) handler failed and the pool has no 'error' listener: ${(error as Error)?.stack ?? String(error)}`,
        {
          code: 'IOCP_POOL_REQUEST_ERROR',
        },
      );
    }
  }
}

/** The pool's side of what its threads say (besides the parts, what only the pool can do). */
export interface ThreadEventHost {
  readonly life: Lifecycle;
  readonly tasks: TaskTable;
  /** The 'stdout' and 'stderr' options: a thread's streams are the user's to read ('threadStart'). */
  readonly workerOptions: { stdout?: boolean; stderr?: boolean };
  /** currentPool().run() from a thread: the pool's run(), as any caller's. */
  run(task: unknown, options: { signal: AbortSignal } | undefined): Promise<unknown>;
  readonly reports: PoolReports;
}

/** What the pool does with what its threads say (main/threads.ts ThreadEvents). */
export function threadEvents(pool: EventEmitter, host: ThreadEventHost): ThreadEvents {
  const { life, tasks, workerOptions, reports } = host;
  return {
    ready: (record) => {
      life.threadReady();
      const { worker } = record;
      pool.emit('threadStart', {
        threadId: record.threadId,
        workerId: record.id,
        stdout: workerOptions.stdout ? worker.stdout : null,
        stderr: workerOptions.stderr ? worker.stderr : null,
      });
    },
    loadError: (record, cause, setup) => life.loadFailed(record, new WorkerLoadError(cause?.message ?? String(cause), cause), setup),
    requestError: (wParam, error) => reports.requestError(wParam, error),
    message: (record, value) => pool.emit('message', value, { threadId: record.threadId, workerId: record.id }),
    teardownError: (_, error) =>
      reports.report(
        Object.assign(new Error(`a pool thread's teardown() failed: ${(error as Error)?.message ?? String(error)}`), { cause: error }),
        'IOCP_POOL_TEARDOWN_ERROR',
      ),
    run: (task, signal) => host.run(task, signal === undefined ? undefined : { signal }),
    payload: (slot) => tasks.takeFallback(slot),
    progress: (slot, ticket, value) => tasks.progress(slot, ticket, value),
    exit: (record, code) => life.onExit(record, code),
  };
}
