/**
 * What run() makes of its options once call-options.ts has checked them: the index of the handler
 * they name (another module's included), and the task's extras (its timeout, its onProgress
 * wrapped to run in its caller's async context).
 *
 * Apart from ThreadPool#run so that the hot path stays short to read: a run() without options
 * calls nothing here, and one with options calls these two once each.
 */
import { AsyncResource } from 'node:async_hooks';
import type { RunOptions } from '../call-options.js';
import { type HandlerNames, otherModuleKey } from '../names.js';
import { toFileUrl } from '../options.js';
import type { TaskExtras } from './task-extras.js';

/** What a pool knows to resolve a run()'s handler: its names, its module's file: URL, its `name` option. */
export interface HandlerScope {
  readonly names: HandlerNames;
  readonly filename: string;
  readonly defaultName: string | undefined;
}

/** The index of the handler `options` name (0: the default), or the error to reject run() with. */
export function handlerIndex(options: RunOptions, scope: HandlerScope): number | Error {
  let key: string | RangeError | undefined = options.name;
  if (options.filename !== undefined) {
    const filename = toFileUrl(options.filename, 'options.filename');
    // Another module: its handler is a name entry of its own (names.ts otherModuleKey).
    if (filename !== scope.filename) key = otherModuleKey(filename, options.name ?? scope.defaultName);
  }
  if (key instanceof RangeError) return key;
  if (key === undefined) return 0;
  return scope.names.indexOf(key);
}

/** The task's timeout and onProgress, or undefined when it has neither (then it costs nothing more). */
export function taskExtras(options: RunOptions): TaskExtras | undefined {
  // Infinity: no timeout (no timer at all: one that long cannot be armed).
  const timeout = options.timeout === Infinity ? undefined : options.timeout;
  // onProgress is called from the result drain, in whatever async context is current then
  // (none, or another caller's): through a resource made here, it runs in its caller's, as a
  // promise reaction does. Only run() calls that pass one pay for it. Not AsyncResource.bind():
  // it costs about 20 µs a call (Node 20), a resource and a closure about 0.3 µs.
  const onProgress = options.onProgress === undefined ? undefined : inCallerContext(options.onProgress);
  return timeout !== undefined || onProgress !== undefined ? { timeout, onProgress } : undefined;
}

/** `callback`, called in the async context current now (an AsyncResource made once per call of this). */
function inCallerContext(callback: (value: unknown) => void): (value: unknown) => void {
  const resource = new AsyncResource('iocp-pool.run');
  return (value) => resource.runInAsyncScope(callback, undefined, value);
}
