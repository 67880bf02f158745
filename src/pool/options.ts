/**
 * ThreadPool's options, their defaults (the original articles' rules, docs/background.md) and their
 * checks; what stats() reports. The options of run(), broadcast() and close() are call-options.ts's.
 */
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { type ResourceLimits, SHARE_ENV, type WorkerOptions } from 'node:worker_threads';
import { resolveHeapOptions, type SharedHeapOptions, type SharedHeapStats } from '../heap/options.js';
import type { Percentiles } from './types.js';
import { nameError } from './names.js';
import { unknownOptionError } from './option-names.js';
import { arenaGeometry, MAX_ARENA_BYTES } from './layout.js';
import { checkSerialization, type Serialization } from '../codec/serialization.js';

export type { Serialization } from '../codec/serialization.js';

/**
 * The pool's shared heap: the memory that carries tasks and results too large for their slot,
 * and the views of pool.alloc(). See docs/pool.md, "The shared heap".
 *
 * @group The pool
 */
export interface PoolHeapOptions {
  /** Bound on the heap's bytes, all segments together; a payload that finds it full goes by MessagePort. Default 256 MiB. */
  maxBytes?: number;
  /** An idle pool shrinks its heap back to this many bytes or below (largest segments first). Default 2 MiB. */
  floorBytes?: number;
  /** Largest block: a task or result larger than this goes by MessagePort, and alloc() above it throws. Default 4 MiB. */
  maxBlockBytes?: number;
  /** A segment is given back once it has been empty this long (ms). Default 5 000. */
  retireAfterMs?: number;
}

/** The options of `new ThreadPool(options)`: `filename` is required, every other has a default. @group The pool */
export interface ThreadPoolOptions {
  /**
   * The worker module: a path or a file: URL (ESM or CommonJS). Its default export (or `handler`
   * export) is the default handler; its other function exports are handlers run() can name.
   */
  filename: string | URL;
  /** The export run() and queueRequest() call when run() names none. Default: the default export. */
  name?: string;
  /** Threads in the pool. Default 2 × cores (two worker threads per processor, as the Winsock echo server in docs/background.md). */
  threads?: number;
  /** Threads kept even when idle; threads above it exit after idleTimeout. Default = threads. */
  minThreads?: number;
  /** Milliseconds a thread above minThreads may stay idle before it exits. Default 30 000. */
  idleTimeout?: number;
  /** The port's cap on running threads. Default cores (a concurrency value of one per processor, as CreateIoCompletionPort's 0). */
  concurrency?: number;
  /**
   * run() tasks that may wait to start; beyond it run() rejects with QueueFullError. 'auto':
   * threads². Default Infinity. `needsDrain` is true at or above it (threads² when Infinity).
   */
  maxQueue?: number | 'auto';
  /** run() tasks and queueRequest handlers a thread runs before it leaves and is replaced. Default Infinity. */
  maxTasksPerThread?: number;
  /** Heap bytes used (checked between tasks, at most every 2 ms) above which a thread leaves and is replaced. Default Infinity. */
  maxHeapUsedBeforeRecycle?: number;
  /**
   * Tasks one thread holds at once while their async handlers await: at the cap it takes no
   * packet until one settles (an integer ≥ 1, or Infinity). Default Infinity: the fair share
   * (docs/pool.md, "Async handlers") already spreads the work, and handlers that only wait overlap freely.
   */
  concurrentTasksPerThread?: number;
  /** Packets the task port holds (queueRequest returns false beyond it). Default 65536. */
  queueCapacity?: number;
  /** Task slots in the shared arena: run() tasks in flight at once (more wait in a queue here). Default 4096. */
  slots?: number;
  /** Bytes per slot; a larger task or result goes into the shared heap (see `heap`). Default 256. */
  slotBytes?: number;
  /**
   * How a task or result that is not a number, boolean, string or typed array is encoded:
   * 'structured' (default: the structured clone postMessage does — Map, Set, Date, RegExp,
   * BigInt, errors, cycles) or 'json' (JSON.stringify / JSON.parse: plain data only, faster;
   * a Date arrives as its ISO string, undefined in an array as null, a Map as {}). Errors
   * thrown by handlers keep their type with either.
   */
  serialization?: Serialization;
  /** Limits of the shared heap (see PoolHeapOptions). */
  heap?: PoolHeapOptions;
  /** Iterations a pool thread spins on its wait word before it sleeps. Default 2 000: about 10 µs — long enough for the main thread to post the next task, short enough not to steal its core on a 2-core machine. */
  spinCount?: number;
  /** Given to the worker module as `currentPool().workerData`. */
  workerData?: unknown;
  /** Passed to each `new Worker()`. */
  resourceLimits?: ResourceLimits;
  /** The threads' process.env (passed to each `new Worker()`): an object, or SHARE_ENV to share the main thread's. */
  env?: Record<string, string | undefined> | typeof SHARE_ENV;
  /** Appended to the threads' process.argv (passed to each `new Worker()`). */
  argv?: readonly unknown[];
  /** The threads' Node options (passed to each `new Worker()`), e.g. ['--import', 'tsx'] for a TypeScript worker module. Default: the main thread's. */
  execArgv?: readonly string[];
  /**
   * true: a thread's stdout is not copied to the main thread's process.stdout; read it from the
   * 'threadStart' event's `stdout` stream instead (as `new Worker({ stdout: true })`).
   */
  stdout?: boolean;
  /** The same for stderr. */
  stderr?: boolean;
  /** Close the file descriptors a thread opened with fs.open() when it exits (as `new Worker()`). Default true. */
  trackUnmanagedFds?: boolean;
  /**
   * The backend of the pool's two completion ports: 'portable' (default),
   * 'native' (the Win32 IOCP, Windows only) or 'auto'. See docs/native.md.
   */
  backend?: 'portable' | 'native' | 'auto';
}

/** What `pool.stats()` reports. @group Events and stats */
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
  /**
   * The shared heap: `bytes` of segments (every thread's), `maxBytes`, `floorBytes`,
   * `maxBlockBytes`, and the `segments` and `blocks` allocated in it (tasks, results, alloc() views).
   */
  heap: SharedHeapStats;
  /**
   * The fraction (0…1) of the interval since the previous stats() call (or since the pool started)
   * that its threads spent in handlers: the tasks completed in it times their sampled mean run
   * time, over threads × the interval. An async handler counts while it awaits.
   */
  utilization: number;
}

/** Every ThreadPoolOptions key (the Record makes the compiler list a new option here). */
const POOL_OPTIONS = Object.keys({
  filename: 1,
  name: 1,
  threads: 1,
  minThreads: 1,
  idleTimeout: 1,
  concurrency: 1,
  maxQueue: 1,
  maxTasksPerThread: 1,
  maxHeapUsedBeforeRecycle: 1,
  queueCapacity: 1,
  slots: 1,
  slotBytes: 1,
  serialization: 1,
  heap: 1,
  spinCount: 1,
  workerData: 1,
  resourceLimits: 1,
  env: 1,
  argv: 1,
  execArgv: 1,
  stdout: 1,
  stderr: 1,
  trackUnmanagedFds: 1,
  backend: 1,
  concurrentTasksPerThread: 1,
} satisfies Record<keyof ThreadPoolOptions, 1>);

/** What `value` is, for an error message: null, its class name, or its typeof. */
export function describe(value: unknown): string {
  return value === null ? 'null' : typeof value === 'object' ? (value.constructor?.name ?? 'an object') : typeof value;
}

/** The most packets a completion port holds: the task port holds queueCapacity + slots. */
const PORT_CAPACITY = 1 << 24;

/** A thread's cap on tasks pending at once (ThreadPoolOptions.concurrentTasksPerThread; docs/pool.md says why this value). */
const DEFAULT_CONCURRENT_TASKS = Infinity;

/** Pool threads spin at most this long on the port before sleeping (see ThreadPoolOptions.spinCount). */
const DEFAULT_SPIN = 2000;

export interface ResolvedOptions {
  filename: string;
  maxTasksPerThread: number;
  maxHeapUsedBeforeRecycle: number;
  concurrentTasksPerThread: number;
  name: string | undefined;
  /** What each `new Worker()` of the pool gets. */
  workerOptions: WorkerOptions;
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
  serialization: Serialization;
  heap: Required<SharedHeapOptions>;
}

/** Checks every option (a TypeError/RangeError naming it) and fills in the defaults. */
export function resolveOptions(options: ThreadPoolOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object with a filename');
  const unknown = unknownOptionError('options', options, POOL_OPTIONS);
  if (unknown !== undefined) throw unknown;
  const cores = availableParallelism();
  const threads = positiveInt('options.threads', options.threads, 2 * cores, 1, 4096);
  if (options.idleTimeout !== undefined && typeof options.idleTimeout !== 'number') {
    throw new TypeError(`options.idleTimeout must be a number of milliseconds ≥ 0, got ${typeof options.idleTimeout}`);
  }
  if (options.idleTimeout !== undefined && !(options.idleTimeout >= 0)) {
    throw new RangeError(`options.idleTimeout must be a number of milliseconds ≥ 0, got ${String(options.idleTimeout)}`);
  }
  const slots = positiveInt('options.slots', options.slots, 4096, 1, 1 << 20);
  // The task port holds every slot's packet besides the queueRequest packets: the port's limit
  // (2^24 packets) bounds the sum, so say so in the option's terms.
  const queueCapacity = positiveInt('options.queueCapacity', options.queueCapacity, 65536, 1, PORT_CAPACITY - slots);
  const name = options.name;
  if (name !== undefined) {
    const bad = nameError('options.name', name);
    if (bad !== undefined) throw bad;
  }
  return {
    filename: toFileUrl(options.filename, 'options.filename'),
    name,
    workerOptions: workerOptions(options),
    threads,
    minThreads: positiveInt('options.minThreads', options.minThreads, threads, 0, threads),
    concurrency: positiveInt('options.concurrency', options.concurrency, cores, 1, 65536),
    maxQueue:
      options.maxQueue === undefined || options.maxQueue === Infinity
        ? Infinity
        : options.maxQueue === 'auto'
          ? threads * threads
          : positiveInt('options.maxQueue', options.maxQueue, 0, 0, 2 ** 31 - 1),
    maxTasksPerThread: limit('options.maxTasksPerThread', options.maxTasksPerThread, true),
    maxHeapUsedBeforeRecycle: limit('options.maxHeapUsedBeforeRecycle', options.maxHeapUsedBeforeRecycle, false),
    concurrentTasksPerThread:
      options.concurrentTasksPerThread === undefined
        ? DEFAULT_CONCURRENT_TASKS
        : limit('options.concurrentTasksPerThread', options.concurrentTasksPerThread, true),
    queueCapacity,
    slots,
    slotBytes: arenaFits(slots, positiveInt('options.slotBytes', options.slotBytes, 256, 64, 1 << 20)),
    spinCount: positiveInt('options.spinCount', options.spinCount, DEFAULT_SPIN, 0, 1e9),
    idleTimeout: options.idleTimeout ?? 30_000,
    backend: checkBackend(options.backend),
    serialization: checkSerialization(options.serialization),
    heap: heapOptions(options.heap),
  };
}

/**
 * slotBytes, once the arena of `slots` such slots is known to fit: each option has its own range,
 * but their product is bounded too (MAX_ARENA_BYTES), and only a RangeError naming both says which
 * to lower — not the typed-array error a larger arena would meet.
 */
function arenaFits(slots: number, slotBytes: number): number {
  const geo = arenaGeometry(slots, slotBytes);
  if (geo.byteLength > MAX_ARENA_BYTES) {
    const perSlot = geo.slotBytes === slotBytes ? '' : ` (each slot takes ${geo.slotBytes} bytes: slotBytes rounded up to a multiple of 64)`;
    throw new RangeError(
      `options.slots × options.slotBytes is too large: ${slots} × ${slotBytes} makes an arena of ${geo.byteLength} bytes${perSlot}, ` +
        `and the arena (the slots, a header and the handler names) is at most ${MAX_ARENA_BYTES} bytes (just under 2 GiB): lower options.slots or options.slotBytes`,
    );
  }
  return slotBytes;
}

/** The options passed to each `new Worker()`, checked like the others (a TypeError naming the option). */
function workerOptions(options: ThreadPoolOptions): WorkerOptions {
  const { env, argv, execArgv, stdout, stderr, trackUnmanagedFds, resourceLimits } = options;
  if (env !== undefined && env !== SHARE_ENV && (env === null || typeof env !== 'object' || Array.isArray(env))) {
    throw new TypeError(`options.env must be an object or SHARE_ENV, got ${describe(env)}`);
  }
  if (argv !== undefined && !Array.isArray(argv)) throw new TypeError(`options.argv must be an array, got ${describe(argv)}`);
  if (execArgv !== undefined && !(Array.isArray(execArgv) && execArgv.every((a) => typeof a === 'string'))) {
    throw new TypeError(`options.execArgv must be an array of strings, got ${describe(execArgv)}`);
  }
  for (const [key, value] of [
    ['stdout', stdout],
    ['stderr', stderr],
    ['trackUnmanagedFds', trackUnmanagedFds],
  ] as const) {
    if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`options.${key} must be a boolean, got ${describe(value)}`);
  }
  if (resourceLimits !== undefined && (resourceLimits === null || typeof resourceLimits !== 'object')) {
    throw new TypeError(`options.resourceLimits must be an object, got ${describe(resourceLimits)}`);
  }
  const out: WorkerOptions = {};
  if (env !== undefined) out.env = env;
  if (argv !== undefined) out.argv = [...argv];
  if (execArgv !== undefined) out.execArgv = [...execArgv];
  else {
    const inherited = inheritedExecArgv(process.execArgv);
    if (inherited !== undefined) out.execArgv = inherited;
  }
  if (stdout !== undefined) out.stdout = stdout;
  if (stderr !== undefined) out.stderr = stderr;
  if (trackUnmanagedFds !== undefined) out.trackUnmanagedFds = trackUnmanagedFds;
  if (resourceLimits !== undefined) out.resourceLimits = resourceLimits;
  return out;
}

/**
 * The main thread's Node options as the threads inherit them, without those that only make sense
 * for the main program: `--input-type` (`node --input-type=module -e …`) says how to read a
 * string given as the program, and Node refuses to load a worker's file entry under it — every
 * thread would die at start. Undefined when nothing needs taking out (the Worker inherits as is).
 */
export function inheritedExecArgv(execArgv: readonly string[]): string[] | undefined {
  const at = execArgv.findIndex((arg) => arg === '--input-type' || arg.startsWith('--input-type='));
  if (at === -1) return undefined;
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    if (arg.startsWith('--input-type=')) continue;
    if (arg === '--input-type') {
      i++; // and its value
      continue;
    }
    kept.push(arg);
  }
  return kept;
}

function heapOptions(heap: unknown): Required<SharedHeapOptions> {
  if (heap === undefined) return resolveHeapOptions({}, 'options.heap.');
  if (heap === null || typeof heap !== 'object') throw new TypeError(`options.heap must be an object, got ${describe(heap)}`);
  const { maxBytes, floorBytes, maxBlockBytes, retireAfterMs, ...rest } = heap as PoolHeapOptions;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new TypeError(`options.heap.${unknown} is not an option (maxBytes, floorBytes, maxBlockBytes, retireAfterMs)`);
  return resolveHeapOptions({ maxBytes, floorBytes, maxBlockBytes, retireAfterMs }, 'options.heap.');
}

function checkBackend(value: unknown): 'portable' | 'native' | 'auto' {
  if (value === undefined) return 'portable';
  if (value === 'portable' || value === 'native' || value === 'auto') return value;
  throw new RangeError(`options.backend must be 'portable', 'native' or 'auto', got ${String(value)}`);
}

/** A worker module's path or file: URL as a file: URL string; a TypeError naming `what` when it is neither. */
export function toFileUrl(filename: unknown, what: string): string {
  if (filename instanceof URL) {
    if (filename.protocol !== 'file:') throw new TypeError(`${what} must be a path or a file: URL, got ${filename.href}`);
    return filename.href;
  }
  if (typeof filename !== 'string' || filename === '') throw new TypeError(`${what} must be the path or file: URL of the worker module`);
  if (filename.startsWith('file:')) return new URL(filename).href;
  return pathToFileURL(filename).href;
}

/** An optional limit: Infinity when absent; else a number > 0 (an integer when `integer`). */
function limit(name: string, value: unknown, integer: boolean): number {
  if (value === undefined || value === Infinity) return Infinity;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  if (!(value > 0) || (integer && !Number.isInteger(value))) {
    throw new RangeError(`${name} must be ${integer ? 'an integer' : 'a number'} > 0, got ${value}`);
  }
  return value;
}

function positiveInt(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`${name} must be an integer from ${min} to ${max}, got ${typeof value}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}
