// Deep comparison of two structured clones, down to what deep equality often misses: prototypes,
// -0, NaN, holes, property order, invalid Dates, which objects are the same object (identity,
// cycles), and for views their offset, their length and their buffer — its length, and which views
// share it.

/** Whether a and b are the same value in that sense; `pairs` maps each object of a to its counterpart in b. */
export function same(a: unknown, b: unknown, pairs = new Map<object, object>()): boolean {
  if (a === null || typeof a !== 'object') return typeof a === 'function' ? false : Object.is(a, b);
  if (b === null || typeof b !== 'object') return false;
  const seen = pairs.get(a);
  if (seen !== undefined) return seen === b;
  for (const y of pairs.values()) if (y === b) return false; // b is already another object's counterpart
  pairs.set(a, b);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Date) return Object.is(a.getTime(), (b as Date).getTime());
  if (a instanceof RegExp) return a.source === (b as RegExp).source && a.flags === (b as RegExp).flags;
  if (a instanceof ArrayBuffer || a instanceof SharedArrayBuffer) {
    const y = b as ArrayBuffer;
    return a.byteLength === y.byteLength && Buffer.compare(new Uint8Array(a), new Uint8Array(y)) === 0;
  }
  if (ArrayBuffer.isView(a)) {
    const y = b as ArrayBufferView;
    return a.byteOffset === y.byteOffset && a.byteLength === y.byteLength && same(a.buffer, y.buffer, pairs);
  }
  if (a instanceof Error) return a.name === (b as Error).name && a.message === (b as Error).message;
  if (a instanceof Map) {
    const x = [...a.entries()];
    const y = [...(b as Map<unknown, unknown>).entries()];
    return x.length === y.length && x.every(([k, v], i) => same(k, y[i]![0], pairs) && same(v, y[i]![1], pairs));
  }
  if (a instanceof Set) {
    const x = [...a];
    const y = [...(b as Set<unknown>)];
    return x.length === y.length && x.every((v, i) => same(v, y[i], pairs));
  }
  for (const boxed of [Number, String, Boolean, BigInt] as unknown as { prototype: { valueOf(): unknown } }[]) {
    if (a instanceof (boxed as unknown as new () => object)) return Object.is(boxed.prototype.valueOf.call(a), boxed.prototype.valueOf.call(b));
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && a.length !== (b as unknown[]).length) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false; // holes, order
  return ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], pairs));
}
