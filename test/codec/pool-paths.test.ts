// Property tests through a real pool: a value echoed by a handler comes back as structuredClone
// gives it ('json': as JSON gives it), whichever path it takes — the slot, the shared heap, or the
// MessagePort fallback — and views that shared an ArrayBuffer share one again.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { fixture } from '../pool/helpers.js';
import { anyString, cloneable, plainData, sharedViews } from './arbitraries.js';
import { same } from './same.js';

type Serialization = 'structured' | 'json';

/**
 * Pools whose geometry forces one path for everything above a few bytes: a slot of 1 MiB and no
 * heap block (the slot), 64-byte slots and the default heap (the heap), 64-byte slots and no
 * block of any size (the fallback).
 */
const PATHS = {
  slot: { slots: 4, slotBytes: 1 << 20, heap: { maxBlockBytes: 0 } },
  heap: { slotBytes: 64 },
  fallback: { slotBytes: 64, heap: { maxBlockBytes: 0 } },
} as const;

const RUNS = 250;

/** What run(value) should give back with `serialization`, or the error class it should reject with. */
function expected(serialization: Serialization, value: unknown): { value: unknown } | { error: new (...a: never[]) => Error } {
  const clone = (v: unknown) => {
    try {
      return { value: structuredClone(v) };
    } catch {
      return { error: DOMException as unknown as new () => Error };
    }
  };
  if (serialization === 'structured') return clone(value);
  // 'json': a number, string, boolean, null, undefined or typed array as the whole value travels as itself.
  if (value === null || (typeof value !== 'object' && typeof value !== 'bigint') || ArrayBuffer.isView(value)) return clone(value);
  try {
    return { value: JSON.parse(JSON.stringify(value)) };
  } catch {
    return { error: TypeError };
  }
}

describe.each(['structured', 'json'] as const)("serialization '%s'", (serialization) => {
  describe.each(Object.keys(PATHS) as (keyof typeof PATHS)[])('through the %s', (path) => {
    let pool: ThreadPool;
    beforeAll(() => {
      pool = new ThreadPool({ filename: fixture('fidelity.mjs'), threads: 1, serialization, ...PATHS[path] });
    });
    afterAll(async () => {
      // The path was the one meant: only the heap pool used the heap.
      expect(pool.stats().heap.bytes > 0).toBe(path === 'heap');
      expect(pool.stats().heap.blocks).toBe(0);
      await pool.destroy();
    });

    async function check(value: unknown): Promise<boolean> {
      const want = expected(serialization, value);
      const got = await pool.run(value).then(
        (v) => ({ value: v }),
        (e: unknown) => ({ thrown: e }),
      );
      if ('error' in want) return 'thrown' in got && got.thrown instanceof want.error;
      if ('thrown' in got) throw got.thrown;
      return same(got.value, want.value);
    }

    it('plain data', async () => {
      await fc.assert(fc.asyncProperty(plainData.value, check), { numRuns: RUNS });
    });

    it('anything fast-check makes', async () => {
      await fc.assert(fc.asyncProperty(cloneable(3), check), { numRuns: RUNS });
    });

    it('strings, as the whole value', async () => {
      await fc.assert(fc.asyncProperty(anyString, check), { numRuns: RUNS });
    });

    it('views that share ArrayBuffers', async () => {
      await fc.assert(fc.asyncProperty(sharedViews, check), { numRuns: RUNS });
    });
  });
});
