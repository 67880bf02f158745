/**
 * The worker module a Piscina pool gives its ThreadPool: in each thread it loads the user's
 * module(s) the way piscina does, and calls handlers with the task alone.
 *
 * - `setup()` publishes the thread's state (isWorkerThread, workerData) before any user module
 *   loads, applies niceIncrement, and loads the default module so the first task finds it ready.
 * - The default export runs a task on the default module's handler: synchronously when the
 *   handler is, so a sync handler keeps the pool's synchronous fast path.
 * - `dispatch([filename, name, task])` runs a task on another module or export
 *   (`run(task, { filename, name })`).
 * - A handler's result made by Piscina.move() is unwrapped: its value is sent, its buffer detached here.
 *
 * This file is its own bundle (dist/piscina-worker.js): it imports nothing from the pool.
 */
import { createRequire } from 'node:module';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Transferable, TransferListItem } from 'node:worker_threads';
import { isMovable, unwrapMoved } from './move.js';
import { type ShimData, WORKER_STATE } from './state.js';

type Handler = (task: unknown) => unknown;

const require = createRequire(import.meta.url);
/** Handlers by `${filename}\0${name}`, once loaded. */
const handlers = new Map<string, Handler>();
let config: ShimData = { filename: null, name: 'default', niceIncrement: 0, workerData: undefined };
/** The default module's handler once loaded: the fast path's one lookup. */
let defaultHandler: Handler | undefined;

/** Before the first task: the thread's state, its nice value, the default module. */
export async function setup(data: ShimData): Promise<void> {
  config = data;
  (globalThis as Record<symbol, unknown>)[WORKER_STATE] = Object.freeze({ workerData: data.workerData });
  if (data.niceIncrement !== 0) renice(data.niceIncrement);
  if (data.filename !== null) {
    try {
      defaultHandler = await load(data.filename, data.name);
    } catch {
      // Not fatal here: each task that needs it loads it again and rejects with why (as piscina).
    }
  }
}

/** A task for the default module and export. */
export default function runDefault(task: unknown): unknown {
  if (defaultHandler !== undefined) return settle(defaultHandler(task));
  if (config.filename === null) throw new Error('filename must be provided to run() or in options object');
  return load(config.filename, config.name).then((handler) => {
    defaultHandler = handler;
    return settle(handler(task));
  });
}

/** A task that names its module or export: [filename, name, task]. */
export function dispatch(envelope: [string, string, unknown]): unknown {
  const [filename, name, task] = envelope;
  const handler = handlers.get(`${filename}\0${name}`);
  if (handler !== undefined) return settle(handler(task));
  return load(filename, name).then((loaded) => settle(loaded(task)));
}

/**
 * A moved result sends its value (copied by the pool); a promise is settled first. Output the
 * handler wrote and the thread has not yet handed to the main thread is flushed before the result
 * goes: a program that exits once its last task settles would lose it otherwise (as piscina).
 */
function settle(result: unknown): unknown {
  if (result !== null && typeof result === 'object') {
    if (typeof (result as PromiseLike<unknown>).then === 'function') return Promise.resolve(result).then(settle);
    // Moved: transferred out of this thread (the sender's buffer is detached, as with piscina),
    // then copied to the caller by the pool.
    if (isMovable(result)) {
      const transfer: TransferListItem[] = [];
      result = structuredClone(unwrapMoved(result, transfer), { transfer: transfer as Transferable[] });
    }
  }
  if (process.stdout.writableLength > 0 || process.stderr.writableLength > 0) return flushed().then(() => result);
  return result;
}

/** Resolves once stdout and stderr have handed every pending write on. */
function flushed(): Promise<unknown> {
  return Promise.all(
    [process.stdout, process.stderr].map((stream) => stream.writableLength > 0 && new Promise((resolve) => stream.write('', resolve))),
  );
}

/**
 * The handler of `name` in `filename`, as piscina finds it (see exportOf(); awaited: a module may
 * export a promise of its handler). Loaded with import() — never require(), which on Node 20.19+
 * would load an ES module through require(esm), and Node 20.20 can abort the process there — and
 * with require() only for a file import() does not know but a require hook does (TypeScript
 * through ts-node…).
 */
async function load(filename: string, name: string): Promise<Handler> {
  const key = `${filename}\0${name}`;
  const known = handlers.get(key);
  if (known !== undefined) return known;
  const url = isAbsolute(filename) ? pathToFileURL(filename).href : filename;
  let handler: unknown;
  try {
    handler = await exportOf((await import(url)) as Record<string, unknown>, name);
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !isAbsolute(filename)) throw error;
    const exports: unknown = require(filename);
    handler = await exportOf({ default: exports }, name);
  }
  if (typeof handler !== 'function') throw new Error(`No handler function exported from ${filename}`);
  handlers.set(key, handler as Handler);
  return handler as Handler;
}

/**
 * A module's export `name` as piscina reads it (through a namespace object over require()): an
 * ES module's export; a CommonJS module's module.exports as its default, and module.exports'
 * properties as its named exports — so module.exports = fn is the default handler and fn.b the
 * handler "b", and a compiled ES module's exports.default is its default.
 */
async function exportOf(namespace: Record<string, unknown>, name: string): Promise<unknown> {
  const own = await namespace[name];
  if (typeof own === 'function') return own;
  const cjs = namespace.default;
  if (cjs === null || (typeof cjs !== 'object' && typeof cjs !== 'function')) return own;
  return name === 'default' && typeof cjs === 'function' ? cjs : await (cjs as Record<string, unknown>)[name];
}

/** niceIncrement: through @napi-rs/nice (an optional peer dependency), loaded only when asked for. */
function renice(increment: number): void {
  try {
    (require('@napi-rs/nice') as { nice(increment: number): number }).nice(increment);
  } catch (error) {
    process.emitWarning(
      `niceIncrement ${increment} was not applied: ${(error as Error)?.message ?? String(error)} (it needs @napi-rs/nice installed)`,
      {
        code: 'IOCP_POOL_NICE_UNAVAILABLE',
      },
    );
  }
}
