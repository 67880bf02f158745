/**
 * iocp-pool/piscina: piscina's API on iocp-pool's ThreadPool. Moving from piscina is a change of
 * import:
 *
 *   import Piscina from 'iocp-pool/piscina';          // was: from 'piscina'
 *   const pool = new Piscina({ filename: new URL('./worker.mjs', import.meta.url).href });
 *   await pool.run({ a: 4, b: 6 });
 *
 * In CommonJS, `require('iocp-pool/piscina')` is the class itself, as `require('piscina')` is.
 * See docs/migrating-from-piscina.md for what differs.
 */
import { Piscina } from './piscina.js';
import { workerState } from './state.js';

export { Piscina } from './piscina.js';
export type { PiscinaCloseOptions, PiscinaThread } from './piscina.js';
export type { PiscinaRunOptions } from './run-args.js';
export type { FilledPiscinaOptions, PiscinaOptions } from './options.js';
export type { PiscinaTask, Task, TaskQueue } from './queue.js';
export { ArrayTaskQueue } from './queue.js';
export type { AbortEventEmitter, AbortEventTarget, AbortSignalAny } from './abort.js';
export type { TimingSummary } from './timing.js';
export { move, queueOptionsSymbol, type Transferable, transferableSymbol, valueSymbol } from './move.js';
export default Piscina;

/** True when this module was loaded in a pool thread (its value when the module loaded). */
export const isWorkerThread: boolean = workerState() !== undefined;
/** In a pool thread, the pool's `workerData` option (its value when the module loaded); else undefined. */
export const workerData: unknown = workerState()?.workerData;
/** The version of the package that provides Piscina (iocp-pool's). */
export const version: string = Piscina.version;
