/** Loading the user's worker module and finding its handlers: the default one, and named exports. */
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arenaGeometry } from '../layout.js';
import { OTHER_MODULE, parseOtherModuleKey, readName } from '../names.js';
import type { HandlerContext } from '../types.js';
import { data } from './thread.js';

export type Handler = (task: unknown, context: HandlerContext) => unknown;

type Exports = Record<string, unknown>;

/** Exports that are lifecycle hooks, not handlers. */
const HOOKS = new Set(['setup', 'teardown']);

/** A module's handlers: the default one (when it has one), and any export by name; and its lifecycle hooks. */
export class ModuleHandlers {
  /** The pool's default handler: its `name` option's export, else the module's default handler. */
  readonly default: Handler | undefined;
  /** `export function setup(workerData)`: awaited before the thread takes its first task. */
  readonly setup: ((workerData: unknown) => unknown) | undefined;
  /** `export function teardown()`: awaited when the thread leaves in an orderly way. */
  readonly teardown: (() => unknown) | undefined;
  readonly #exports: Exports;
  /** The module's file: URL, for error messages. */
  readonly #filename: string;
  /** Handlers by the index a task carries (pool/layout.ts NAMES), resolved on first use. */
  readonly #byIndex: (Handler | undefined)[] = [];

  constructor(filename: string, exports: Exports, fallback: Handler | undefined) {
    this.#filename = filename;
    this.#exports = exports;
    this.default = fallback;
    this.setup = typeof exports.setup === 'function' ? (exports.setup as (workerData: unknown) => unknown) : undefined;
    this.teardown = typeof exports.teardown === 'function' ? (exports.teardown as () => unknown) : undefined;
  }

  /** The handler named `name` (a broadcast), or the default one. Throws like at(). */
  named(name: string | undefined): Handler {
    if (name === undefined) return this.at(0);
    const handler = ownExport(this.#exports, name);
    if (typeof handler !== 'function' || HOOKS.has(name)) {
      throw new TypeError(`worker module ${this.#filename} has no export named "${name}" that is a function: it exports ${this.#list()}`);
    }
    return handler as Handler;
  }

  /** The handler of a task whose T_FLAGS carry `index` (0: the default). Throws a TypeError that lists the exports. */
  at(index: number): Handler {
    if (index === 0) {
      if (this.default !== undefined) return this.default;
      throw new TypeError(
        `worker module ${this.#filename} has no default handler: give run() a name (it exports ${this.#list()}), or default-export a function`,
      );
    }
    const known = this.#byIndex[index];
    if (known !== undefined) return known;
    const name = readName(data.arena, arenaGeometry(data.slots, data.slotBytes), index);
    if (name.startsWith(OTHER_MODULE)) return (this.#byIndex[index] = this.#other(index, name));
    const handler = ownExport(this.#exports, name);
    if (typeof handler !== 'function' || HOOKS.has(name)) {
      throw new TypeError(`worker module ${this.#filename} has no export named "${name}" that is a function: it exports ${this.#list()}`);
    }
    this.#byIndex[index] = handler as Handler;
    return handler as Handler;
  }

  /**
   * The handler of a run() with a `filename` other than the pool's (its key: see otherModuleKey):
   * until that module has loaded in this thread, one that loads it (once per thread; again after
   * a failure) and then calls the export; from then on the export itself.
   */
  #other(index: number, key: string): Handler {
    const { filename, name } = parseOtherModuleKey(key);
    return (task, context) =>
      otherModule(filename).then((handlers) => {
        const handler = handlers.named(name);
        this.#byIndex[index] = handler;
        return handler(task, context);
      });
  }

  /** Which handler `index` is, for error messages: 'handler "resize"' or 'the default handler'. */
  describe(index: number): string {
    if (index === 0) return data.defaultName === undefined ? 'the default handler' : `handler "${data.defaultName}"`;
    try {
      const name = readName(data.arena, arenaGeometry(data.slots, data.slotBytes), index);
      if (name.startsWith(OTHER_MODULE)) {
        const other = parseOtherModuleKey(name);
        return `${other.name === undefined ? 'the default handler' : `handler "${other.name}"`} of ${other.filename}`;
      }
      return `handler "${name}"`;
    } catch {
      return `handler ${index}`;
    }
  }

  /** The function exports, for error messages. */
  #list(): string {
    const names = Object.keys(this.#exports).filter((k) => typeof this.#exports[k] === 'function' && !HOOKS.has(k));
    return names.length === 0 ? 'no function' : names.map((n) => (n === 'default' ? 'a default' : `"${n}"`)).join(', ');
  }
}

/**
 * The export called `name`, or undefined: an own property only. The exports object is an ordinary
 * object, so a plain lookup would also find Object.prototype's functions — `toString`,
 * `constructor`… — and call one of them as the handler.
 */
function ownExport(exports: Exports, name: string): unknown {
  return Object.hasOwn(exports, name) ? exports[name] : undefined;
}

/**
 * Imports the module. Its handlers are its function exports: ESM named exports, or the function
 * properties of a CommonJS module.exports. The default handler is, in order: the pool's `name`
 * option, the default export, a named `handler` export, a CommonJS module.exports that is a
 * function, or its `handler` / `default`. Throws an error that names the module and says what is
 * wrong: it does not load, exports no function, or lacks the pool's `name`.
 */
export function loadModule(): Promise<ModuleHandlers> {
  return load(data.filename, data.defaultName);
}

/** Modules of run(task, { filename }) loaded in this thread, by file: URL. */
const others = new Map<string, Promise<ModuleHandlers>>();

/** Another module than the pool's, loaded once per thread (a failure is forgotten: the next task tries again). */
function otherModule(filename: string): Promise<ModuleHandlers> {
  let loading = others.get(filename);
  if (loading === undefined) {
    loading = load(filename, undefined);
    others.set(filename, loading);
    loading.catch(() => others.delete(filename));
  }
  return loading;
}

async function load(filename: string, defaultName: string | undefined): Promise<ModuleHandlers> {
  let mod: Exports;
  try {
    mod = (await import(filename)) as Exports;
  } catch (error) {
    mod = requireHooked(filename, error);
  }
  const def = mod.default as Exports | ((...a: unknown[]) => unknown) | undefined;
  // A CommonJS module's functions are properties of module.exports (the default export).
  const exports: Exports = { ...(def !== null && typeof def === 'object' ? def : {}), ...mod };
  if (typeof def === 'function') exports.default = def;
  if (!Object.values(exports).some((v) => typeof v === 'function')) {
    throw new TypeError(
      `worker module ${filename} exports no function: default-export the handler (or export named functions and call them by name)`,
    );
  }
  if (defaultName !== undefined) {
    const named = ownExport(exports, defaultName);
    if (typeof named !== 'function') {
      throw new TypeError(`worker module ${filename} has no export named "${defaultName}" that is a function (the pool's name option)`);
    }
    return new ModuleHandlers(filename, exports, named as Handler);
  }
  const candidates = [def, mod.handler, (def as Exports | undefined)?.handler, (def as Exports | undefined)?.default];
  const fallback = candidates.find((c) => typeof c === 'function') as Handler | undefined;
  return new ModuleHandlers(filename, exports, fallback);
}

/**
 * import() does not know the file's extension (a .ts module): if a require hook for it is
 * installed in this thread — `--import tsx` or `--require tsx/cjs` install one; on Node 20 a
 * loader's ESM hooks do not reach worker threads, its require hook does — load it with require().
 * Else throw why it did not load.
 */
function requireHooked(filename: string, error: unknown): Exports {
  if ((error as { code?: string })?.code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !filename.startsWith('file:')) throw loadFailure(filename, error);
  const path = fileURLToPath(filename);
  const require = createRequire(path);
  if (!(extname(path) in require.extensions)) throw loadFailure(filename, error);
  let exports: unknown;
  try {
    exports = require(path);
  } catch (requireError) {
    throw loadFailure(filename, requireError);
  }
  // What import() would have given: the named exports, and module.exports (or an ES module's default) as default.
  const named = exports !== null && typeof exports === 'object' ? (exports as Exports) : {};
  return { ...named, default: named.__esModule === true ? named.default : exports };
}

/** Why the module did not load, with a hint where one helps. */
function loadFailure(filename: string, error: unknown): Error {
  let message = `worker module ${filename} failed to load: ${(error as Error)?.message ?? String(error)}`;
  if ((error as { code?: string })?.code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?tsx?$/.test(filename)) {
    message +=
      " — a TypeScript worker module needs a loader in the pool's threads: execArgv: ['--import', 'tsx'] (with tsx installed), or on Node 22.6+ execArgv: ['--experimental-strip-types']";
  }
  const e = new Error(message);
  (e as Error & { cause: unknown }).cause = error;
  return e;
}
