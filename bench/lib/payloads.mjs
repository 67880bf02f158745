/**
 * The payloads of the payload benchmarks (bench/scenarios/payload.mjs,
 * bench/heap-micro.mjs): the same values everywhere, so the figures compare.
 */

/** 16 small objects: 931 bytes by v8.serialize, 1,115 as JSON. */
export function smallObjects() {
  return Array.from({ length: 16 }, (_, i) => ({ id: i, name: `user-${i}`, email: `u${i}@ex.com`, age: 20 + i, active: i % 2 === 0 }));
}

/** A 10 KB string (ASCII). */
export function string10k() {
  return 'abcdefghij'.repeat(1024);
}

/** n bytes with a pattern an echo must give back exactly. */
export function bytes(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255;
  return b;
}
