/** The pool's `serialization` option: what it means, its check, and JSON's encoding of a value. */

/**
 * How tasks and results are written into shared memory: `'structured'` (the default) keeps what
 * structured clone keeps (Map, Set, Date, typed arrays, errors…); `'json'` is for plain data only
 * (as JSON.stringify/parse see it) and is the faster for objects.
 */
export type Serialization = 'structured' | 'json';

/** The `serialization` option, checked: 'structured' when it is not given. */
export function checkSerialization(value: unknown): Serialization {
  if (value === undefined) return 'structured';
  if (value === 'structured' || value === 'json') return value;
  if (typeof value !== 'string')
    throw new TypeError(`options.serialization must be 'structured' or 'json', got ${value === null ? 'null' : typeof value}`);
  throw new RangeError(`options.serialization must be 'structured' or 'json', got ${String(value)}`);
}

/** JSON.stringify(value), or JSON's TypeError for what it gives no text for (a function, a symbol, undefined). */
export function toJson(value: unknown): string {
  const s = JSON.stringify(value);
  if (s === undefined) throw new TypeError(`a ${typeof value} cannot be sent with serialization 'json'`);
  return s;
}
