/**
 * Handler names in the arena (layout.ts, NAMES and A5): run(task, { name })
 * puts a small index in the task's slot instead of a string, so a named task
 * stays on the shared-memory path. The main thread gives each distinct name
 * an index the first time it is used and writes it into the arena; a thread
 * reads the name of an index it has not met yet, once.
 */
import { type ArenaGeometry, MAX_KEY_LENGTH, MAX_NAME_LENGTH, MAX_NAMES } from './layout.js';

/** The main thread's side: name → index, assigned on first use. */
export class HandlerNames {
  readonly #indexes = new Map<string, number>();
  readonly #i32: Int32Array;
  readonly #u16: Uint16Array;
  readonly #geo: ArenaGeometry;
  #chars = 0;

  constructor(buffer: SharedArrayBuffer, geo: ArenaGeometry) {
    this.#i32 = new Int32Array(buffer);
    this.#u16 = new Uint16Array(buffer);
    this.#geo = geo;
  }

  /**
   * The index of `name` (1 … MAX_NAMES), writing it into the arena if new (A5: before any task
   * that carries it is posted). Returns an error when the arena has no room for another name.
   */
  indexOf(name: string): number | RangeError {
    const known = this.#indexes.get(name);
    if (known !== undefined) return known;
    const index = this.#indexes.size + 1;
    if (index > MAX_NAMES || this.#chars + name.length > this.#geo.nameCharCapacity) {
      return new RangeError(`a pool can call at most ${MAX_NAMES} distinct handler names; "${name}" would be one more`);
    }
    const at = this.#chars;
    for (let i = 0; i < name.length; i++) this.#u16[this.#geo.nameChars + at + i] = name.charCodeAt(i);
    this.#chars += name.length;
    const entry = this.#geo.nameEntries + 2 * (index - 1);
    this.#i32[entry] = at;
    this.#i32[entry + 1] = name.length;
    this.#indexes.set(name, index);
    return index;
  }
}

/** A thread's side: the name with `index`, read from the arena (bounds-checked, A5). */
export function readName(buffer: SharedArrayBuffer, geo: ArenaGeometry, index: number): string {
  if (index >>> 0 !== index || index < 1 || index > MAX_NAMES) throw new RangeError(`task names handler ${index} of ${MAX_NAMES}`);
  const i32 = new Int32Array(buffer, geo.nameEntries * 4, MAX_NAMES * 2);
  const at = i32[2 * (index - 1)]!;
  const length = i32[2 * (index - 1) + 1]!;
  if (at >>> 0 !== at || length >>> 0 !== length || length > MAX_KEY_LENGTH || at + length > geo.nameCharCapacity) {
    throw new RangeError(`the task arena is corrupted: handler name ${index} at ${at}, length ${length}`);
  }
  const chars = new Uint16Array(buffer, geo.nameChars * 2 + at * 2, length);
  return String.fromCharCode(...chars);
}

/** What is wrong with a handler name (a TypeError/RangeError naming `what`), or undefined. */
export function nameError(what: string, name: unknown): Error | undefined {
  if (typeof name !== 'string') return new TypeError(`${what} must be the name of a function the worker module exports, got ${typeof name}`);
  if (name === '' || name.length > MAX_NAME_LENGTH)
    return new RangeError(`${what} must be 1 to ${MAX_NAME_LENGTH} characters long, got ${name.length}`);
  return undefined;
}

/**
 * run(task, { filename }) with another module than the pool's: its handler travels as a name
 * entry of its own, "\0" + the module's file: URL + "\n" + the export's name (empty: its default
 * handler). "\0" starts no export name a module can be asked for by run(), so the two kinds of
 * entry cannot be confused.
 */
export const OTHER_MODULE = '\0';

/** The NAMES entry of handler `name` (undefined: the default one) of module `filename` (a file: URL); a RangeError when too long. */
export function otherModuleKey(filename: string, name: string | undefined): string | RangeError {
  const key = `${OTHER_MODULE}${filename}\n${name ?? ''}`;
  if (key.length > MAX_KEY_LENGTH) {
    return new RangeError(
      `options.filename and options.name must be at most ${MAX_KEY_LENGTH - 2} characters together (as a file: URL), got ${key.length - 2}`,
    );
  }
  return key;
}

/** The module and export of an otherModuleKey(). */
export function parseOtherModuleKey(key: string): { filename: string; name: string | undefined } {
  const cut = key.indexOf('\n');
  const name = key.slice(cut + 1);
  return { filename: key.slice(1, cut), name: name === '' ? undefined : name };
}
