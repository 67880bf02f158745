/**
 * Threads whose setup() failed: when to start them again, and when to give up.
 *
 * A module that does not load is no transient failure, and fails the pool at
 * once (lifecycle.ts). A setup() that throws may be one — a database that is
 * restarting, a file not there yet — once the module has shown it can start a
 * thread: the thread is stopped and a new one started after a backoff
 * (SETUP_RETRY_MS, doubled at each failure in a row), each failure reported;
 * only SETUP_FAILURES in a row fail the pool. Before any thread has started,
 * a setup() failure fails the pool only when no other thread is still
 * starting: a module that never starts a thread fails fast, as before.
 */
import { WorkerLoadError } from '../errors.js';
import type { ThreadSet } from './threads.js';
import type { WorkerRecord } from './worker-record.js';

/** A thread whose setup() failed is started again after this long (ms), doubled at each failure in a row… */
export const SETUP_RETRY_MS = 50;
/** …and this many failures in a row (≈ 6.4 s from the first) mean setup() cannot succeed: the pool fails. */
export const SETUP_FAILURES = 8;

/** What the retries need from the pool's lifecycle. */
export interface SetupRetryHost {
  readonly filename: string;
  readonly threads: ThreadSet;
  /** A thread has become ready since the pool started. */
  started(): boolean;
  /** The threads keep the process alive (the pool has work). */
  keepsAlive(): boolean;
  /** Start up to `n` threads, if the pool still takes them. */
  startThreads(n: number): void;
  /** The module cannot start a thread: the pool fails. */
  fail(error: WorkerLoadError): void;
  /** To the 'error' listeners, or a process warning with `code`. */
  report(error: Error, code: string): void;
}

export class SetupRetry {
  readonly #host: SetupRetryHost;
  /** setup() failures since a thread last became ready. */
  #failures = 0;
  /** Threads whose setup() failed, to start again when the timer fires (before the first ready: once one is). */
  #owed = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The first setup() failure before any thread was ready: the pool fails with it if no thread ever starts. */
  #firstError: WorkerLoadError | undefined;

  constructor(host: SetupRetryHost) {
    this.#host = host;
  }

  /** A restart is scheduled: threads start when it fires, not sooner (run() does not start one). */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** A thread became ready: the count starts again, and threads owed since before the first ready start soon. */
  ready(): void {
    this.#failures = 0;
    this.#firstError = undefined;
    if (this.#owed > 0) this.#after(SETUP_RETRY_MS);
  }

  /** `record`'s setup() threw (`error` says so): stop it, and start another later — or fail the pool. */
  failed(record: WorkerRecord, error: WorkerLoadError): void {
    const host = this.#host;
    host.threads.stopUnstarted(record);
    if (!host.started()) {
      this.#firstError ??= error;
      // Another thread may still start: then this one is owed a new start.
      if (host.threads.starting(record) > 0) {
        this.#owed++;
        return;
      }
      host.fail(this.#firstError);
      return;
    }
    const failures = ++this.#failures;
    if (failures >= SETUP_FAILURES) {
      // The thread's error wraps setup()'s own (its cause): name that one.
      const thrown = (error.cause as { cause?: unknown } | undefined)?.cause ?? error.cause;
      const message = `worker module ${host.filename} cannot start a thread: setup() failed ${failures} times in a row (the last: ${(thrown as Error)?.message ?? String(thrown)}), so the pool stopped starting threads`;
      host.fail(new WorkerLoadError(message, error.cause));
      return;
    }
    this.#owed++;
    const delay = SETUP_RETRY_MS * 2 ** (failures - 1);
    this.#after(delay);
    host.report(
      Object.assign(new Error(`a pool thread's setup() failed (${failures} in a row): a new thread starts in ${delay} ms — ${error.message}`), {
        cause: error.cause,
      }),
      'IOCP_POOL_SETUP_FAILED',
    );
  }

  /** The keep-alive policy changed (keep-alive.ts): a pending restart keeps the process alive as the threads do. */
  keepAlive(refed: boolean): void {
    if (refed) this.#timer?.ref();
    else this.#timer?.unref();
  }

  /** The pool is ending: no restart. */
  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Starts the owed threads after `delay` ms (one timer: a later failure waits for the same one). */
  #after(delay: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const owed = this.#owed;
      this.#owed = 0;
      this.#host.startThreads(owed);
    }, delay);
    // Kept alive only while the pool has work (a thread is what it waits for); an idle pool lets the process exit.
    if (!this.#host.keepsAlive()) this.#timer.unref();
  }
}
