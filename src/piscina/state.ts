/**
 * What the worker shim tells the compat class's copy in the same thread: that this is a pool
 * thread, and the pool's workerData. Kept on globalThis under a registered symbol, so the copy a
 * user's worker module imports (ESM or CommonJS build, or a bundled one) finds it.
 */

/** The key of the worker state on globalThis. */
export const WORKER_STATE = Symbol.for('iocp-pool.piscina.worker');

/** Set by the worker shim before it loads the user's module. */
export interface WorkerState {
  /** The `workerData` option given to `new Piscina()`. */
  readonly workerData: unknown;
}

/** The worker state, or undefined outside a Piscina thread. */
export function workerState(): WorkerState | undefined {
  return (globalThis as Record<symbol, WorkerState | undefined>)[WORKER_STATE];
}

/** What the compat class gives the ThreadPool as its workerData: the shim's configuration and the user's workerData. */
export interface ShimData {
  /** The default worker module (an absolute path or a file: URL), or null when every run() names one. */
  readonly filename: string | null;
  /** The export run() calls when it names none ('default' unless the pool's `name` option says otherwise). */
  readonly name: string;
  /** Added to each thread's nice value (Unix; needs the optional @napi-rs/nice). 0: untouched. */
  readonly niceIncrement: number;
  /** The user's workerData. */
  readonly workerData: unknown;
}

/** The shim's export that runs a task naming its own module or export: it receives [filename, name, task]. */
export const DISPATCH = 'dispatch';
