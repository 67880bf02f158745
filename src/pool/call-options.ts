/**
 * The options of the calls made on a pool — run(), broadcast() and close() — and their checks.
 * Apart from the pool's own options (options.ts): those are read once, at `new ThreadPool()`;
 * these on every call, so each check here returns (or throws) an error naming the option and the
 * call, and leaks nothing: run() checks its options before it takes a slot or a backlog place.
 */
import type { TransferListItem } from 'node:worker_threads';
import { nameError } from './names.js';
import { unknownOptionError } from './option-names.js';
import { describe, toFileUrl } from './options.js';

/** The options of `pool.run(task, options)`. @group The pool */
export interface RunOptions<Name extends string = string> {
  /** The worker module's export to call (default: the pool's `name` option, else the default export). */
  name?: Name;
  /**
   * Another worker module to run the task with (a path or a file: URL): its export `name` (else
   * the pool's `name` option, else its default handler). Each thread imports it when it first
   * runs such a task and keeps it; its setup() and teardown() are not called (only the pool's
   * own module's are).
   */
  filename?: string | URL;
  /** Aborting it before the task starts rejects run() with an AbortError; a running handler receives it as `context.signal`. */
  signal?: AbortSignal;
  /** Objects to transfer with the task (the task then goes by MessagePort when it starts). */
  transferList?: readonly TransferListItem[];
  /**
   * Milliseconds the handler may run, counted from when it starts (not from run()). Past it, run()
   * rejects with a TimeoutError, the handler's context.signal aborts, and a handler still running
   * 100 ms later is stopped by terminating its thread (which the pool replaces). At most
   * 2147483647 (2^31 − 1, the longest timer Node.js arms; more is a RangeError); Infinity, like
   * undefined, means no timeout.
   */
  timeout?: number;
  /** Receives, in order and before run() settles, each value the handler passes to context.progress(). */
  onProgress?: (value: unknown) => void;
}

/** The options of `pool.close(options)`. @group The pool */
export interface CloseOptions {
  /**
   * Milliseconds close() waits for queued and running work to finish; then
   * what is left is stopped as destroy() stops it (its run() rejects with a
   * PoolClosedError, its thread is terminated). Default (and Infinity): no
   * deadline. At most 2147483647 (2^31 − 1): more is a RangeError.
   */
  timeout?: number;
  /**
   * true: the tasks not started yet — queued in the port or waiting for a slot — reject at once
   * with a PoolClosedError instead of running; running tasks finish. Default false.
   */
  force?: boolean;
}

/** Every RunOptions key. */
const RUN_OPTIONS = Object.keys({ name: 1, filename: 1, signal: 1, transferList: 1, timeout: 1, onProgress: 1 } satisfies Record<
  keyof RunOptions,
  1
>);

/** What is wrong with run()'s options (a TypeError naming it), or undefined. */
export function runOptionsError(options: unknown): Error | undefined {
  if (options === null || typeof options !== 'object') {
    return new TypeError(`run() options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const unknown = unknownOptionError('run() options', options, RUN_OPTIONS);
  if (unknown !== undefined) return unknown;
  const { signal, transferList, name, timeout, onProgress } = options as RunOptions;
  if (timeout !== undefined) {
    if (typeof timeout !== 'number') return new TypeError(`options.timeout must be a number of milliseconds, got ${describe(timeout)}`);
    if (!(timeout > 0)) return new RangeError(`options.timeout must be a number of milliseconds > 0, got ${timeout}`);
    if (timeout > MAX_TIMEOUT_MS && timeout !== Infinity) return timeoutTooLong('run()', timeout);
  }
  if (onProgress !== undefined && typeof onProgress !== 'function')
    return new TypeError(`options.onProgress must be a function, got ${describe(onProgress)}`);
  if (name !== undefined) {
    const bad = nameError('options.name', name);
    if (bad !== undefined) return bad as TypeError;
  }
  const filename = (options as RunOptions).filename;
  if (filename !== undefined) {
    try {
      toFileUrl(filename, 'options.filename');
    } catch (error) {
      return error as TypeError;
    }
  }
  if (signal !== undefined && !(signal instanceof AbortSignal))
    return new TypeError(`options.signal must be an AbortSignal, got ${describe(signal)}`);
  if (transferList !== undefined && !Array.isArray(transferList))
    return new TypeError(`options.transferList must be an array, got ${describe(transferList)}`);
  return undefined;
}

/** What is wrong with broadcast()'s options, or undefined. */
export function broadcastOptionsError(options: unknown): Error | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object')
    return new TypeError(`broadcast() options must be an object, got ${options === null ? 'null' : typeof options}`);
  const name = (options as { name?: unknown }).name;
  return name === undefined ? undefined : nameError('options.name', name);
}

/** The longest timer Node.js arms (ms): setTimeout() fires after 1 ms instead beyond it. */
export const MAX_TIMEOUT_MS = 0x7fffffff;

function timeoutTooLong(what: string, timeout: number): RangeError {
  return new RangeError(
    `${what} options.timeout must be at most ${MAX_TIMEOUT_MS} ms (2^31 − 1, the longest timer Node.js arms; Infinity for none), got ${timeout}`,
  );
}

/** Checks close()'s options; returns the deadline in ms (Infinity: none). */
export function closeTimeout(options: unknown): number {
  if (options === undefined) return Infinity;
  if (options === null || typeof options !== 'object')
    throw new TypeError(`close() options must be an object, got ${options === null ? 'null' : typeof options}`);
  const unknown = unknownOptionError('close() options', options, ['timeout', 'force']);
  if (unknown !== undefined) throw unknown;
  const force = (options as CloseOptions).force;
  if (force !== undefined && typeof force !== 'boolean') throw new TypeError(`options.force must be a boolean, got ${describe(force)}`);
  const timeout = (options as CloseOptions).timeout;
  if (timeout === undefined) return Infinity;
  if (typeof timeout !== 'number') throw new TypeError(`options.timeout must be a number of milliseconds, got ${typeof timeout}`);
  if (!(timeout >= 0)) throw new RangeError(`options.timeout must be a number of milliseconds ≥ 0, got ${timeout}`);
  if (timeout > MAX_TIMEOUT_MS && timeout !== Infinity) throw timeoutTooLong('close()', timeout);
  return timeout;
}
