/** ThreadPool's options, their defaults (the original articles' rules, docs/background.md) and their checks; run() options; stats(). */
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { ResourceLimits, TransferListItem } from 'node:worker_threads';
import type { Percentiles } from './histogram.js';

export interface ThreadPoolOptions {
  /** The worker module: a path or a file: URL (ESM or CommonJS) whose default export (or `handler` export) is the handler. */
  filename: string | URL;
  /** Threads in the pool. Default 2 × cores (two worker threads per processor, as the Winsock echo server in docs/background.md). */
  threads?: number;
  /** Threads kept even when idle; threads above it exit after idleTimeout. Default = threads. */
  minThreads?: number;
  /** Milliseconds a thread above minThreads may stay idle before it exits. Default 30 000. */
  idleTimeout?: number;
  /** The port's cap on running threads. Default cores (a concurrency value of one per processor, as CreateIoCompletionPort's 0). */
  concurrency?: number;
  /** run() tasks that may wait to start; beyond it run() rejects with QueueFullError. Default Infinity. */
  maxQueue?: number;
  /** Packets the task port holds (queueRequest returns false beyond it). Default 65536. */
  queueCapacity?: number;
  /** Task slots in the shared arena: run() tasks in flight at once (more wait in a queue here). Default 4096. */
  slots?: number;
  /** Bytes per slot; larger payloads go by MessagePort. Default 256. */
  slotBytes?: number;
  /** Iterations a pool thread spins on its wait word before it sleeps. Default 2 000: about 10 µs — long enough for the main thread to post the next task, short enough not to steal its core on a 2-core machine. */
  spinCount?: number;
  /** Given to the worker module as `currentPool().workerData`. */
  workerData?: unknown;
  /** Passed to each `new Worker()`. */
  resourceLimits?: ResourceLimits;
  /**
   * The backend of the pool's two completion ports: 'portable' (default),
   * 'native' (the Win32 IOCP, Windows only) or 'auto'. See docs/native.md.
   */
  backend?: 'portable' | 'native' | 'auto';
}

export interface RunOptions {
  /** Aborting it before the task starts rejects run() with an AbortError; a running handler receives it as `context.signal`. */
  signal?: AbortSignal;
  /** Objects to transfer with the task (the task then goes by MessagePort when it starts). */
  transferList?: readonly TransferListItem[];
}

export interface ThreadPoolStats {
  /** Pool threads alive. */
  threads: number;
  /** Threads counted as running by the port (≤ concurrency, except after blocking sections). */
  running: number;
  /** Threads waiting on the port for work. */
  waiting: number;
  /** Packets on the task port not yet taken, plus run() tasks waiting here for a slot. */
  queued: number;
  /** run() tasks and queueRequest packets that finished without error. */
  completed: number;
  /** run() tasks and queueRequest packets whose handler threw (or whose thread died). */
  failed: number;
  /** Milliseconds handlers ran (sampled). */
  runTime: Percentiles;
  /** Milliseconds tasks waited between run() and the handler's start (sampled). */
  waitTime: Percentiles;
}

/** Pool threads spin at most this long on the port before sleeping (see ThreadPoolOptions.spinCount). */
const DEFAULT_SPIN = 2000;

export interface ResolvedOptions {
  filename: string;
  threads: number;
  minThreads: number;
  concurrency: number;
  maxQueue: number;
  queueCapacity: number;
  slots: number;
  slotBytes: number;
  spinCount: number;
  idleTimeout: number;
  backend: 'portable' | 'native' | 'auto';
}

/** Checks every option (a TypeError/RangeError naming it) and fills in the defaults. */
export function resolveOptions(options: ThreadPoolOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object with a filename');
  const cores = availableParallelism();
  const threads = positiveInt('options.threads', options.threads, 2 * cores, 1, 4096);
  if (options.idleTimeout !== undefined && !(typeof options.idleTimeout === 'number' && options.idleTimeout >= 0)) {
    throw new RangeError(`options.idleTimeout must be a number of milliseconds ≥ 0, got ${String(options.idleTimeout)}`);
  }
  return {
    filename: toFileUrl(options.filename),
    threads,
    minThreads: positiveInt('options.minThreads', options.minThreads, threads, 0, threads),
    concurrency: positiveInt('options.concurrency', options.concurrency, cores, 1, 65536),
    maxQueue:
      options.maxQueue === undefined || options.maxQueue === Infinity
        ? Infinity
        : positiveInt('options.maxQueue', options.maxQueue, 0, 0, 2 ** 31 - 1),
    queueCapacity: positiveInt('options.queueCapacity', options.queueCapacity, 65536, 1, 1 << 24),
    slots: positiveInt('options.slots', options.slots, 4096, 1, 1 << 20),
    slotBytes: positiveInt('options.slotBytes', options.slotBytes, 256, 64, 1 << 20),
    spinCount: positiveInt('options.spinCount', options.spinCount, DEFAULT_SPIN, 0, 1e9),
    idleTimeout: options.idleTimeout ?? 30_000,
    backend: checkBackend(options.backend),
  };
}

function checkBackend(value: unknown): 'portable' | 'native' | 'auto' {
  if (value === undefined) return 'portable';
  if (value === 'portable' || value === 'native' || value === 'auto') return value;
  throw new RangeError(`options.backend must be 'portable', 'native' or 'auto', got ${String(value)}`);
}

function toFileUrl(filename: unknown): string {
  if (filename instanceof URL) {
    if (filename.protocol !== 'file:') throw new TypeError(`options.filename must be a path or a file: URL, got ${filename.href}`);
    return filename.href;
  }
  if (typeof filename !== 'string' || filename === '') throw new TypeError('options.filename must be the path or file: URL of the worker module');
  if (filename.startsWith('file:')) return new URL(filename).href;
  return pathToFileURL(filename).href;
}

function positiveInt(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}
