/** Loading the user's worker module and finding its handler. */
import { data } from './thread.js';

/** What a handler receives besides its task. */
export interface HandlerContext {
  /** The AbortSignal of a run() that had one, else undefined. */
  signal: AbortSignal | undefined;
}

export type Handler = (task: unknown, context: HandlerContext) => unknown;

/**
 * Imports the module and returns its handler: the default export, a named
 * `handler` export, or a CommonJS module.exports (a function, or an object
 * with `handler` / `default`). Throws an error that names the module and says
 * what is wrong.
 */
export async function loadModule(): Promise<Handler> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(data.filename)) as Record<string, unknown>;
  } catch (error) {
    const e = new Error(`worker module ${data.filename} failed to load: ${(error as Error)?.message ?? String(error)}`);
    (e as Error & { cause: unknown }).cause = error;
    throw e;
  }
  const def = mod.default as Record<string, unknown> | ((...a: unknown[]) => unknown) | undefined;
  const candidates = [def, mod.handler, (def as Record<string, unknown> | undefined)?.handler, (def as Record<string, unknown> | undefined)?.default];
  for (const c of candidates) if (typeof c === 'function') return c as Handler;
  throw new TypeError(
    `worker module ${data.filename} exports no function: default-export the handler (or export a function named "handler")`,
  );
}
