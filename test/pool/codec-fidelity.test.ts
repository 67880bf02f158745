// What a task or a result becomes does not depend on its size or on the heap's state: the slot, the
// shared heap and the MessagePort fallback give what structuredClone gives ('json': what JSON gives).
// Each test here failed before its fix.
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { same } from '../codec/same.js';
import { jsonish } from './fixtures/fidelity.mjs';
import { fixture } from './helpers.js';

const KiB = 1024;
/** A heap that takes no block above 64 KiB: a payload larger than that takes the MessagePort fallback. */
const SMALL_HEAP = { maxBlockBytes: 64 * KiB, maxBytes: 2 * 1024 * KiB };
/** The three paths a payload can take, by the pool it goes through and its size (pad: bytes added to it). */
const PATHS = [
  { path: 'slot', heap: undefined, pad: 0 },
  { path: 'heap', heap: undefined, pad: 100 * KiB },
  { path: 'fallback', heap: SMALL_HEAP, pad: 100 * KiB },
] as const;

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

function make(options: Partial<ConstructorParameters<typeof ThreadPool>[0]> = {}): ThreadPool {
  const pool = new ThreadPool({ filename: fixture('fidelity.mjs'), threads: 1, ...options });
  pools.push(pool);
  return pool;
}

describe.each(['structured', 'json'] as const)("serialization '%s'", (serialization) => {
  it('keeps a lone surrogate in a string of any length, as the task and as the result', async () => {
    const pool = make({ serialization });
    for (const n of [1, 16, 17, 50, 108, 109, 216, 217, 5000]) {
      const s = `\ud800${'a'.repeat(n - 1)}`;
      expect(await pool.run(s), `echo of ${n}`).toBe(s);
      expect(await pool.run(n, { name: 'loneSurrogate' }), `result of ${n}`).toBe(s);
      const t = `${'é'.repeat(n - 1)}\udc00`;
      expect(await pool.run(t), `echo of ${n}, wide`).toBe(t);
    }
  });
});

describe.each(['structured', 'json'] as const)("the error tag cannot be forged, serialization '%s'", (serialization) => {
  const MiB = 1024 * 1024;

  it('a result shaped like an error record stays a plain object, in the heap and past it', async () => {
    const pool = make({ serialization });
    for (const n of [10, 100_000, 5 * MiB]) {
      const made = (await pool.run(n, { name: 'lookalike' })) as Record<string, unknown>;
      expect(made, `made, ${n}`).not.toBeInstanceOf(Error);
      expect(Object.getPrototypeOf(made), `made, ${n}`).toBe(Object.prototype);
      expect(made.__iocpError, `made, ${n}`).toBe(true);
      expect(made.error, `made, ${n}`).toEqual({ name: 'TypeError', message: 'not an error either' });
      const sent = { __iocpError: true, name: 'RangeError', message: 'sent', error: { name: 'RangeError', message: 'x' }, pad: 'y'.repeat(n) };
      expect(await pool.run(sent), `echo, ${n}`).toEqual(sent);
    }
  });

  it('a thrown plain object shaped like an error record is thrown as that object', async () => {
    const pool = make({ serialization });
    const thrown = await pool.run(null, { name: 'throwLookalike' }).catch((e: unknown) => e);
    expect(thrown).not.toBeInstanceOf(Error);
    expect(thrown).toEqual({ __iocpError: true, name: 'TypeError', message: 'a plain object', error: { name: 'TypeError', message: 'still plain' } });
  });
});

describe.each(PATHS)("views give what structuredClone gives, on the $path path ('structured')", ({ heap, pad }) => {
  it('two views over one ArrayBuffer arrive over one buffer, at their offsets, as task and as result', async () => {
    const pool = make({ heap });
    const buffer = new ArrayBuffer(64);
    new Uint8Array(buffer).forEach((_, i, a) => {
      a[i] = i;
    });
    const task = { a: new Uint8Array(buffer, 8, 16), b: new Uint32Array(buffer, 16, 4), pad: new Uint8Array(pad) };
    const echoed = (await pool.run(task)) as typeof task;
    expect(echoed.a.buffer).toBe(echoed.b.buffer);
    expect([echoed.a.byteOffset, echoed.b.byteOffset, echoed.a.buffer.byteLength]).toEqual([8, 16, 64]);
    expect(same(echoed, structuredClone(task))).toBe(true);
    const made = (await pool.run({ pad }, { name: 'sharedViews' })) as typeof task;
    expect(made.a.buffer).toBe(made.b.buffer);
    expect(same(made, structuredClone(task))).toBe(true);
  });

  it('a Buffer arrives as the Uint8Array structuredClone makes of it, as task and as result', async () => {
    const pool = make({ heap });
    const n = Math.max(pad, 10);
    for (const buffer of [Buffer.alloc(n, 7), Buffer.from('a pooled one')]) {
      const echoed = (await pool.run(buffer)) as Uint8Array;
      expect(Object.getPrototypeOf(echoed)).toBe(Uint8Array.prototype);
      expect(same(echoed, structuredClone(buffer))).toBe(true);
    }
    const made = (await pool.run(n, { name: 'buffer' })) as Uint8Array;
    expect(Object.getPrototypeOf(made)).toBe(Uint8Array.prototype);
    expect(same(made, structuredClone(Buffer.alloc(n, 7)))).toBe(true);
    const nested = (await pool.run({ b: Buffer.alloc(n, 7) })) as { b: Uint8Array };
    expect(Object.getPrototypeOf(nested.b)).toBe(Uint8Array.prototype);
  });
});

describe.each(PATHS)("'json' gives what JSON gives, on the $path path", ({ heap, pad }) => {
  it('as task and as result: Dates as strings, Maps as {}, NaN as null, functions and undefined dropped', async () => {
    const pool = make({ serialization: 'json', heap });
    // The value the handler makes, made here too: JSON's answer for it is the expected one.
    const expected = JSON.parse(JSON.stringify(jsonish({ pad })));
    expect(await pool.run(jsonish({ pad }))).toStrictEqual(expected);
    expect(await pool.run({ pad }, { name: 'jsonish' })).toStrictEqual(expected);
    // Plain data (the fast path's share): undefined in an array is null, an undefined property is dropped.
    const plain = { a: [1, undefined, 'é'], u: undefined, n: -0, pad: 'y'.repeat(pad) };
    expect(await pool.run(plain)).toStrictEqual(JSON.parse(JSON.stringify(plain)));
    // What JSON cannot encode rejects with JSON's TypeError, on every path.
    const cyclic: Record<string, unknown> = { pad: 'z'.repeat(pad) };
    cyclic.self = cyclic;
    await expect(pool.run(cyclic)).rejects.toThrow(TypeError);
    await expect(pool.run({ big: 1n, pad: 'z'.repeat(pad) })).rejects.toThrow(TypeError);
  });
});

describe("'json' and a transferList", () => {
  it('a task with a transferList is a structured clone (moving buffers is what it asks for)', async () => {
    const pool = make({ serialization: 'json' });
    const buffer = new ArrayBuffer(8);
    const seen = await pool.run({ when: new Date(0), buffer }, { name: 'kinds', transferList: [buffer] });
    expect(buffer.byteLength).toBe(0); // moved
    expect(seen).toEqual({ when: '[object Date]', buffer: '[object ArrayBuffer]' });
    // Without one, the same task is JSON.
    expect(await pool.run({ when: new Date(0), buffer: new ArrayBuffer(8) }, { name: 'kinds' })).toEqual({
      when: '[object String]',
      buffer: '[object Object]',
    });
  });
});

describe("'json' gives what JSON gives with the heap full", () => {
  it('a payload that finds no room in the heap is still JSON', async () => {
    const pool = make({ serialization: 'json', heap: { maxBytes: 2 * 1024 * KiB, maxBlockBytes: 256 * KiB } });
    const views: Uint8Array[] = [];
    for (;;) {
      try {
        views.push(pool.alloc(200 * KiB));
      } catch {
        break; // the heap is at maxBytes
      }
    }
    const value = { date: new Date(0), nan: Number.NaN, fn() {}, pad: 'x'.repeat(20 * KiB) };
    expect(await pool.run(value)).toStrictEqual(JSON.parse(JSON.stringify(value)));
    for (const view of views) pool.free(view);
  });
});
