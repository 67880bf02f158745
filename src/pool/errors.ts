/** Errors the pool itself produces (a handler's own errors reach run() as they were thrown). */

/** run()/queueRequest() after close() or destroy(). @group Errors */
export class PoolClosedError extends Error {
  /** What to match on: the message may change. */
  readonly code = 'ERR_POOL_CLOSED';
  constructor(message: string) {
    super(message);
    this.name = 'PoolClosedError';
  }
}

/** run() beyond maxQueue. @group Errors */
export class QueueFullError extends Error {
  /** What to match on: the message may change. */
  readonly code = 'ERR_POOL_QUEUE_FULL';
  constructor(maxQueue: number) {
    super(`the pool's task queue is full (maxQueue = ${maxQueue}): wait for some tasks to finish, or raise maxQueue`);
    this.name = 'QueueFullError';
  }
}

/** A task whose signal aborted before it started. @group Errors */
export class AbortError extends Error {
  /** What to match on: the message may change. */
  readonly code = 'ABORT_ERR';
  constructor(cause?: unknown) {
    super('The task was aborted before it started', cause === undefined ? undefined : { cause });
    this.name = 'AbortError';
  }
}

/** A task whose thread ended under it (process.exit, an uncaught error, resource limits, destroy()). @group Errors */
export class WorkerDiedError extends Error {
  /** What to match on: the message may change. */
  readonly code = 'ERR_POOL_WORKER_DIED';
  /** The thread's exit code (`process.exit(n)` gives n, an uncaught error 1), when the thread's exit was seen. */
  readonly exitCode: number | undefined;
  constructor(message: string, cause?: unknown, exitCode?: number) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'WorkerDiedError';
    this.exitCode = exitCode;
  }
}

/** A run() whose handler did not settle within its `timeout` (counted from when the handler started). @group Errors */
export class TimeoutError extends Error {
  /** What to match on: the message may change. */
  readonly code = 'ERR_POOL_TASK_TIMEOUT';
  constructor(timeout: number) {
    super(`the task did not finish within its timeout of ${timeout} ms (counted from when its handler started)`);
    this.name = 'TimeoutError';
  }
}

/** The worker module could not be loaded or exports no handler: every run() rejects with it. @group Errors */
export class WorkerLoadError extends Error {
  /** What to match on: the message may change. */
  readonly code = 'ERR_POOL_WORKER_LOAD';
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'WorkerLoadError';
  }
}
