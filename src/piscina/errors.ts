/** The errors a Piscina rejects with, with piscina's names and messages (applications match on them). */

/** run() rejects with it when its signal aborts, queued or running. `cause` is the signal's reason. */
export class AbortError extends Error {
  constructor(reason?: unknown) {
    super('The task has been aborted', reason === undefined ? undefined : { cause: reason });
  }
  /** 'AbortError', as piscina's and the DOM's. */
  override get name(): string {
    return 'AbortError';
  }
}

/** piscina's plain errors, by what happened. */
export const Errors = {
  /** destroy() (or close()'s deadline) ended a task that had not finished. */
  threadTermination: (): Error => new Error('Terminating worker thread'),
  /** run() named no module and the pool has no filename. */
  filenameNotProvided: (): Error => new Error('filename must be provided to run() or in options object'),
  /** maxQueue tasks already wait. */
  taskQueueAtLimit: (): Error => new Error('Task queue is at limit'),
  /** maxQueue is 0 and every thread is busy. */
  noTaskQueueAvailable: (): Error => new Error('No task queue available and all Workers are busy'),
  /** close() waited closeTimeout ms for the running tasks. */
  closeTimeout: (): Error => new Error('Close operation timed out'),
};

/**
 * The ThreadPool's errors as piscina's: the end of the pool; a thread that died of an uncaught
 * error rejects with that error, one that exited with 'worker exited with code: N'.
 */
export function translate(error: unknown): unknown {
  const e = error as (Error & { cause?: unknown; exitCode?: number }) | null;
  if (e?.name === 'PoolClosedError') {
    return /^close\(\{ force: true \}\) before this task started/.test(e.message) ? new AbortError('pool is closed') : Errors.threadTermination();
  }
  if (e?.name === 'WorkerDiedError') {
    if (e.cause instanceof Error) return e.cause;
    if (e.exitCode !== undefined) return new Error(`worker exited with code: ${e.exitCode}`);
  }
  return error;
}
