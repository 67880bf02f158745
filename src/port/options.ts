/**
 * What both backends share about their arguments, written once: defaults
 * and limits, the parsing of the constructor's, from()'s and getAsync()'s
 * options, post()'s argument check, and the handle checks. Every check
 * throws a TypeError (wrong type) or a RangeError (wrong value) that names
 * the argument.
 */
import { availableParallelism } from 'node:os';
import type { AttachOptions, CompletionPortOptions, GetAsyncOptions } from './types.js';
import { checkFinite, checkInteger, checkOptions, checkTimeout, describe } from './validate.js';

export const DEFAULT_CAPACITY = 65536;
export const DEFAULT_MAX_THREADS = 1024;
/**
 * Most iterations a waiter spins before it sleeps (~110 µs at the ~5.6 ns an
 * Atomics.load loop takes here); each thread adapts its spin below this.
 */
export const DEFAULT_SPIN = 20000;
export const MAX_CAPACITY = 1 << 24;
export const MAX_THREADS_LIMIT = 1 << 16;
export const MAX_SPIN = 1e9;

/** The constructor's numeric options, checked, with their defaults applied. */
export interface PortConfig {
  /** The cap on running threads, ≥ 1 (0 given is os.availableParallelism()). */
  concurrency: number;
  capacity: number;
  maxThreads: number;
  spinCount: number;
}

export type Backend = 'portable' | 'native' | 'auto';

/** Checks `new CompletionPort(options)`'s numbers (both backends take the same). */
export function parsePortConfig(options: CompletionPortOptions | undefined): PortConfig {
  const o = checkOptions('options', options);
  const concurrency = o.concurrency === undefined ? 0 : checkInteger('options.concurrency', o.concurrency, 0, MAX_THREADS_LIMIT);
  const capacity = o.capacity === undefined ? DEFAULT_CAPACITY : checkInteger('options.capacity', o.capacity, 1, MAX_CAPACITY);
  const maxThreads = o.maxThreads === undefined ? DEFAULT_MAX_THREADS : checkInteger('options.maxThreads', o.maxThreads, 1, MAX_THREADS_LIMIT);
  const spinCount = o.spinCount === undefined ? DEFAULT_SPIN : checkInteger('options.spinCount', o.spinCount, 0, MAX_SPIN);
  return { concurrency: concurrency === 0 ? availableParallelism() : concurrency, capacity, maxThreads, spinCount };
}

/** Checks `options.backend` (after the numbers: the order the errors have always come in). */
export function parseBackend(options: CompletionPortOptions | undefined): Backend {
  const backend = options?.backend;
  if (backend === undefined) return 'portable';
  if (backend !== 'portable' && backend !== 'native' && backend !== 'auto') {
    throw new RangeError(`options.backend must be 'portable', 'native' or 'auto', got ${describe(backend)}`);
  }
  return backend;
}

/** Checks `CompletionPort.from(handle, options)`'s options: the spin count, or undefined for the port's own. */
export function parseAttachOptions(options: AttachOptions | undefined): number | undefined {
  const o = checkOptions('options', options);
  return o.spinCount === undefined ? undefined : checkInteger('options.spinCount', o.spinCount, 0, MAX_SPIN);
}

/** getAsync()'s arguments, checked. */
export interface AsyncWaitConfig {
  timeout: number;
  spinCount: number;
  syncMs: number;
  /** The rank the wait takes on the waiter stack (options.behind: true is 1, false 0). */
  behind: number;
}

/** The largest `behind` rank (a slot word holds it). */
export const MAX_BEHIND = 0x7fffffff;

/** Checks getAsync(timeoutMs, options). */
export function parseGetAsync(timeoutMs: number | undefined, options: GetAsyncOptions | undefined): AsyncWaitConfig {
  const timeout = timeoutMs === undefined ? Infinity : checkTimeout('timeoutMs', timeoutMs);
  if (options === undefined) return { timeout, spinCount: 0, syncMs: 0, behind: 0 };
  const o = checkOptions('options', options);
  const spinCount = o.spinCount === undefined ? 0 : checkInteger('options.spinCount', o.spinCount, 0, MAX_SPIN);
  const syncMs = o.syncMs === undefined ? 0 : checkTimeout('options.syncMs', o.syncMs);
  const b = o.behind;
  const behind = b === undefined || b === false ? 0 : b === true ? 1 : checkInteger('options.behind', b, 0, MAX_BEHIND);
  return { timeout, spinCount, syncMs, behind };
}

/**
 * post()'s three numbers are a packet: an unsigned 32-bit byte count and two
 * finite numbers. Small enough to be inlined into each backend's post(),
 * where it runs on every call; badPacket() says what is wrong.
 */
export function isPacket(bytesTransferred: unknown, completionKey: number, overlapped: number): boolean {
  return (
    typeof bytesTransferred === 'number' &&
    bytesTransferred >>> 0 === bytesTransferred &&
    Number.isFinite(completionKey) &&
    Number.isFinite(overlapped)
  );
}

/** Throws the error that names what isPacket() refused. */
export function badPacket(bytesTransferred: unknown, completionKey: unknown, overlapped: unknown): never {
  checkInteger('bytesTransferred', bytesTransferred, 0, 0xffffffff);
  checkFinite('completionKey', completionKey);
  checkFinite('overlapped', overlapped);
  throw new TypeError('post() arguments are not a packet');
}

/** getMany()'s `max`. */
export function checkMax(max: unknown): number {
  return checkInteger('max', max, 1, 0x7fffffff);
}

/** A TypeError that says what is wrong with a value given as a port handle. */
export function badHandle(why: string): TypeError {
  return new TypeError(`handle must be a completion port handle (port.handle): ${why}`);
}

export function isSharedArrayBuffer(value: unknown): value is SharedArrayBuffer {
  return Object.prototype.toString.call(value) === '[object SharedArrayBuffer]';
}
