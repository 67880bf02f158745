// Values for the codec's property tests (plain.test.ts, pool-paths.test.ts): plain data with its
// corners, anything the structured clone knows, strings of any units, views that share ArrayBuffers.
import fc from 'fast-check';

/** Plain data, with the corners now and then: -0, NaN, undefined, holes, long and wide strings, odd keys, shared objects. */
export const plainData = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: tie('leaf'), weight: 3 },
    { arbitrary: tie('array'), weight: 2 },
    { arbitrary: tie('object'), weight: 3 },
    { arbitrary: tie('shared'), weight: 1 },
  ),
  leaf: fc.oneof(
    fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31), 2 ** 53, 0.1, true, false, null, undefined, ''),
    fc.integer(),
    fc.double(),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    // Lone surrogates among other units, at every length a slot holds and beyond.
    fc.string({ unit: fc.constantFrom('\ud800', '\udfff', 'a', 'é', '😀'), maxLength: 130 }),
    fc.string({ minLength: 120, maxLength: 2000 }),
    fc.date({ noInvalidDate: false }),
  ),
  array: fc.oneof(
    { arbitrary: fc.array(tie('value'), { maxLength: 8 }), weight: 5 },
    { arbitrary: fc.sparseArray(tie('value'), { maxLength: 6 }), weight: 1 },
  ),
  object: fc.dictionary(
    fc.oneof(
      { arbitrary: fc.string({ maxLength: 6 }), weight: 12 },
      { arbitrary: fc.constantFrom('__proto__', '0', '7', '-1', 'toJSON', 'length', '1e3', ''), weight: 1 },
    ),
    tie('value'),
    { maxKeys: 6, noNullPrototype: true },
  ),
  // One object in two places: the structured clone keeps it one object.
  shared: tie('object').map((o) => ({ a: o, b: [o] })),
}));

/** fc.anything with what the structured clone knows: Maps, Sets, Dates, typed arrays, BigInts, boxed values, null prototypes… */
export function cloneable(maxDepth: number): fc.Arbitrary<unknown> {
  return fc.anything({
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withSparseArray: true,
    withTypedArray: true,
    withNullPrototype: true,
    withObjectString: true,
    maxDepth,
  });
}

/** Strings of any UTF-16 units — lone surrogates among them — at every length a slot holds, and longer. */
export const anyString = fc.oneof(
  // A length drawn evenly (fast-check's own sizes favour short strings: a slot's 17-108 units were rare).
  fc.integer({ min: 0, max: 300 }).chain((n) => fc.string({ unit: fc.constantFrom('\ud800', '\udfff', 'a', 'é', '😀'), minLength: n, maxLength: n })),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 3000 }),
);

/** The view types the structured clone knows, by index. */
const VIEW_TYPES = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
] as const;

/** A view of type t over [start, …) of buffer with at most `count` elements, aligned and in bounds. */
function viewOver(buffer: ArrayBuffer, t: number, start: number, count: number): ArrayBufferView {
  const Ctor = VIEW_TYPES[t % VIEW_TYPES.length]!;
  const size = 'BYTES_PER_ELEMENT' in Ctor ? Ctor.BYTES_PER_ELEMENT : 1;
  const offset = Math.floor((start % (buffer.byteLength + 1)) / size) * size;
  const length = count % (Math.floor((buffer.byteLength - offset) / size) + 1);
  return new (Ctor as unknown as new (b: ArrayBuffer, o: number, n: number) => ArrayBufferView)(buffer, offset, length);
}

/**
 * Views over shared ArrayBuffers, where the structured clone keeps one buffer per ArrayBuffer and
 * each view's offset: several views over one buffer (small, or 16 KiB and more: the codec copies
 * those out of line), the buffer itself beside them (before or after), pooled Buffers and their
 * slices, a subclass — as the whole value or inside arrays and objects.
 */
export const sharedViews: fc.Arbitrary<unknown> = fc
  .record({
    size: fc.oneof(
      { arbitrary: fc.integer({ min: 0, max: 96 }), weight: 4 },
      { arbitrary: fc.integer({ min: 16 * 1024, max: 40 * 1024 }), weight: 1 },
    ),
    views: fc.array(fc.record({ t: fc.nat(), start: fc.nat(), count: fc.nat() }), { minLength: 1, maxLength: 4 }),
    bufferAt: fc.integer({ min: -1, max: 4 }),
    extras: fc.subarray(['pooled', 'slice', 'subclass', 'second'] as const),
    shape: fc.constantFrom('alone', 'array', 'object', 'nested'),
  })
  .map(({ size, views, bufferAt, extras, shape }) => {
    const buffer = new ArrayBuffer(size);
    new Uint8Array(buffer).forEach((_, i, a) => {
      a[i] = (i * 31 + 7) & 255;
    });
    const parts: unknown[] = views.map(({ t, start, count }) => viewOver(buffer, t, start, count));
    if (bufferAt >= 0) parts.splice(Math.min(bufferAt, parts.length), 0, buffer);
    if (extras.includes('pooled')) parts.push(Buffer.from(`pooled ${size}`));
    if (extras.includes('slice')) parts.push(Buffer.from('a slice of a pooled Buffer').subarray(2, 9));
    if (extras.includes('subclass')) parts.push(new (class Words extends Uint16Array {})(new ArrayBuffer(8), 2, 2));
    if (extras.includes('second')) parts.push(viewOver(new ArrayBuffer(24), 1, 3, 9));
    switch (shape) {
      case 'alone':
        return parts[0];
      case 'array':
        return parts;
      case 'object':
        return Object.fromEntries(parts.map((p, i) => [`k${i}`, p]));
      default:
        return { list: parts.slice(0, 2), more: { rest: parts.slice(2), again: parts[0] } };
    }
  });
