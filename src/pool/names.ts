/**
 * Handler names in the arena (layout.ts, NAMES and A5): run(task, { name })
 * puts a small index in the task's slot instead of a string, so a named task
 * stays on the shared-memory path. The main thread gives each distinct name
 * an index the first time it is used and writes it into the arena; a thread
 * reads the name of an index it has not met yet, once.
 */
import { type ArenaGeometry, MAX_NAME_LENGTH, MAX_NAMES } from './layout.js';

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
  if (at >>> 0 !== at || length >>> 0 !== length || length > MAX_NAME_LENGTH || at + length > geo.nameCharCapacity) {
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
