/** run()'s and runTask()'s arguments, checked as piscina checks them (the same TypeErrors). */
import type { TransferListItem } from 'node:worker_threads';
import type { AbortSignalAny } from './abort.js';

/** The options of `pool.run(task, options)`. */
export interface PiscinaRunOptions {
  /** Objects to transfer with the task (not copied). */
  transferList?: readonly TransferListItem[];
  /** Another worker module for this task (a path or a file: URL). */
  filename?: string | URL | null;
  /** Another export of the module for this task. */
  name?: string | null;
  /** Aborting it rejects run() with an AbortError, whether the task waits or runs. */
  signal?: AbortSignalAny | null;
}

/** A run()'s arguments once checked: null where the caller gave none. */
export interface RunArguments {
  transferList: readonly TransferListItem[] | undefined;
  filename: string | URL | null;
  name: string | null;
  signal: AbortSignalAny | null;
}

/** run()'s options checked, or the TypeError piscina gives for the first bad one. */
export function runArguments(options: PiscinaRunOptions): RunArguments | TypeError {
  if (options === null || typeof options !== 'object') return new TypeError('options must be an object');
  const { transferList, filename, name, signal } = options;
  if (transferList !== undefined && !Array.isArray(transferList)) return new TypeError('transferList argument must be an Array');
  if (filename != null && typeof filename !== 'string' && !(filename instanceof URL)) return new TypeError('filename argument must be a string');
  if (name != null && typeof name !== 'string') return new TypeError('name argument must be a string');
  if (signal != null && typeof signal !== 'object') return new TypeError('signal argument must be an object');
  return { transferList, filename: filename ?? null, name: name ?? null, signal: signal ?? null };
}

/**
 * piscina 3's runTask(task, transferList?, filename?, signal?): each argument optional — a string
 * in a place is the filename, an object that is not an array the signal — checked, or its TypeError.
 */
export function runTaskArguments(transferList: unknown, filename: unknown, signal: unknown): RunArguments | TypeError {
  if ((typeof transferList === 'object' && transferList !== null && !Array.isArray(transferList)) || typeof transferList === 'string') {
    signal = filename;
    filename = transferList;
    transferList = undefined;
  }
  if (typeof filename === 'object' && filename !== null && !Array.isArray(filename)) {
    signal = filename;
    filename = undefined;
  }
  if (transferList !== undefined && !Array.isArray(transferList)) return new TypeError('transferList argument must be an Array');
  if (filename !== undefined && typeof filename !== 'string') return new TypeError('filename argument must be a string');
  if (signal !== undefined && typeof signal !== 'object') return new TypeError('signal argument must be an object');
  return {
    transferList: transferList as TransferListItem[] | undefined,
    filename: (filename as string) || null,
    name: null,
    signal: (signal as AbortSignalAny) || null,
  };
}
