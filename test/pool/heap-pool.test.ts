// The shared heap through the pool, with real threads: payloads of every size both ways, the two
// codecs, alloc() views by reference both ways, misuse, the fallback past the heap's bounds.
import { describe, expect, it } from 'vitest';
import { PoolClosedError, ThreadPool } from '../../dist/index.js';
import { fixture, heapPools, KiB, MiB, randomBytes } from './helpers.js';

const make = heapPools();

const SIZES = [0, 1, 200, 216, 217, 4 * KiB, 16 * KiB, 64 * KiB, 100_000, MiB - 1, MiB, 2 * MiB];

describe.each(['structured', 'json'] as const)("payloads through run(), serialization '%s'", (serialization) => {
  it('round-trips bytes and strings of 0 B … 2 MB exactly, both ways, and leaves no block behind', async () => {
    const pool = make({ serialization });
    expect(pool.serialization).toBe(serialization);
    for (const n of SIZES) {
      const bytes = randomBytes(n);
      const back = (await pool.run(bytes)) as Uint8Array;
      expect(back).toBeInstanceOf(Uint8Array);
      expect(back.byteLength).toBe(n);
      expect(Buffer.compare(back, bytes)).toBe(0);
      expect(back.buffer).not.toBeInstanceOf(SharedArrayBuffer); // a copy of its own, not a view of the heap
      const ascii = 'abcdefghij'.repeat(Math.ceil(n / 10)).slice(0, n);
      expect(await pool.run(ascii)).toBe(ascii);
      const wide = '€😀é'.repeat(Math.ceil(n / 8)).slice(0, n >> 1);
      expect(await pool.run(wide)).toBe(wide);
    }
    // Many at once, of mixed sizes: each comes back as sent.
    const tasks = Array.from({ length: 60 }, (_, i) => randomBytes((i * 37_813) % (600 * KiB)));
    const backs = (await Promise.all(tasks.map((t) => pool.run(t)))) as Uint8Array[];
    for (let i = 0; i < tasks.length; i++) expect(Buffer.compare(backs[i]!, tasks[i]!)).toBe(0);
    expect(pool.stats().heap.blocks).toBe(0);
  });

  it('round-trips plain data of every size', async () => {
    const pool = make({ serialization });
    const objects = Array.from({ length: 16 }, (_, i) => ({ id: i, name: `user-${i}`, email: `u${i}@ex.com`, age: 20 + i, active: i % 2 === 0 }));
    expect(await pool.run(objects)).toEqual(objects);
    const big = Array.from({ length: 30_000 }, (_, i) => ({ i, s: `${i}é`, list: [i, null, true] }));
    expect(await pool.run(big)).toEqual(big);
    expect(pool.stats().heap.blocks).toBe(0);
  });

  it('keeps an error thrown by a handler its type, message and properties', async () => {
    const pool = make({ serialization });
    const error = (await pool.run({ message: 'x'.repeat(10_000) }, { name: 'fail' }).catch((e: unknown) => e)) as RangeError & {
      code: string;
      detail: { at: Date };
    };
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe('x'.repeat(10_000));
    expect(error.code).toBe('E_TEST');
    expect(error.detail.at).toBeInstanceOf(Date); // errors travel structured, whatever the codec
  });
});

describe("serialization 'structured' (the default)", () => {
  it('keeps what the structured clone keeps: Map, Set, Date, RegExp, BigInt, typed arrays, errors, cycles', async () => {
    const pool = make();
    expect(pool.serialization).toBe('structured');
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const value = {
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, { b: [3] }],
      ]),
      set: new Set(['x', 'y']),
      date: new Date(1_700_000_000_000),
      re: /a+b/gi,
      big: 12345678901234567890n,
      error: new TypeError('boom'),
      cyclic,
      typed: [new Int16Array([1, -2, 3]), new Float64Array(20_000).fill(1.5), new BigInt64Array([5n]), new DataView(new ArrayBuffer(4))],
      pad: 'p'.repeat(5000),
    };
    const back = (await pool.run(value)) as typeof value;
    expect(back.map).toEqual(value.map);
    expect(back.set).toEqual(value.set);
    expect(back.date).toBeInstanceOf(Date);
    expect(back.date.getTime()).toBe(value.date.getTime());
    expect(back.re).toEqual(/a+b/gi);
    expect(back.big).toBe(value.big);
    expect(back.error).toBeInstanceOf(TypeError);
    expect(back.error.message).toBe('boom');
    expect((back.cyclic as { self: unknown }).self).toBe(back.cyclic);
    expect(back.typed[0]).toEqual(new Int16Array([1, -2, 3]));
    expect(back.typed[1]).toEqual(value.typed[1]);
    expect(back.typed[2]).toEqual(new BigInt64Array([5n]));
    expect(back.typed[3]).toBeInstanceOf(DataView);
    expect(pool.stats().heap.blocks).toBe(0);
  });

  it('shares a SharedArrayBuffer that is not the heap (as postMessage does), and clones what postMessage clones', async () => {
    const pool = make();
    const sab = new SharedArrayBuffer(1024);
    await pool.run({ sab, value: 77 }, { name: 'writeShared' });
    expect(new Int32Array(sab)[0]).toBe(77); // the handler wrote into this very memory
    const view = new Uint8Array(new SharedArrayBuffer(300_000));
    view[5] = 9;
    const back = (await pool.run({ view })) as { view: Uint8Array };
    expect(back.view.buffer).toBeInstanceOf(SharedArrayBuffer);
    back.view[6] = 10;
    expect(view[6]).toBe(10); // shared, not copied
    const blob = (await pool.run(new Blob(['a blob']))) as Blob;
    expect(await blob.text()).toBe('a blob');
    // Nested, beside data the serializer takes (Node 22+ would write the Blob as {} silently).
    const nested = (await pool.run({ at: new Date(0), list: [new Map([[1, new Blob(['deep'])]])] })) as { list: [Map<number, Blob>] };
    expect(await nested.list[0].get(1)!.text()).toBe('deep');
    await expect(pool.run({ f: () => 1 })).rejects.toThrow(/^run\(\)'s task \(its first argument\) could not be cloned/);
  });
});

describe("serialization 'json'", () => {
  it('gives what JSON gives: a Date becomes its string, a Map {}, undefined in an array null', async () => {
    const pool = make({ serialization: 'json' });
    const { task, types } = (await pool.run(
      { when: new Date(0), map: new Map([[1, 2]]), list: [undefined, 1], nested: new Uint8Array([1, 2]), skip: undefined },
      { name: 'describe' },
    )) as { task: Record<string, unknown>; types: Record<string, string> };
    expect(types).toEqual({ when: 'String', map: 'Object', list: 'Array', nested: 'Object' });
    expect(task).toEqual({ when: '1970-01-01T00:00:00.000Z', map: {}, list: [null, 1], nested: { 0: 1, 1: 2 } });
    // A typed array as the whole task or result still travels as one (its bytes, copied).
    const bytes = randomBytes(70_000);
    expect(Buffer.compare((await pool.run(bytes)) as Uint8Array, bytes)).toBe(0);
    // What JSON cannot encode fails the run(), in the caller's turn.
    await expect(pool.run({ n: 1n })).rejects.toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(pool.run(cyclic)).rejects.toThrow(/circular/);
  });
});

describe('pool.alloc() / free()', () => {
  it('passes a view by reference both ways: each side sees the bytes the other wrote', async () => {
    const pool = make({ threads: 1 });
    // Main → thread: the handler writes into the view it was given; this thread sees it.
    const view = pool.alloc(64 * KiB);
    view[0] = 41;
    const back = (await pool.run(view, { name: 'poke' })) as Uint8Array;
    expect(view[1]).toBe(42);
    expect(back.buffer).toBe(view.buffer);
    expect(back.byteOffset).toBe(view.byteOffset);
    // Nested too, in a structured value.
    const nested = (await pool.run({ list: [view], map: new Map([['v', view]]) })) as { list: Uint8Array[]; map: Map<string, Uint8Array> };
    expect(nested.list[0]!.byteOffset).toBe(view.byteOffset);
    expect(nested.map.get('v')!.buffer).toBe(view.buffer);
    pool.free(view);

    // Thread → main: the thread allocates and keeps a view; this thread writes into it; the thread reads the write.
    const theirs = (await pool.run({ n: 1000, fill: 7 }, { name: 'allocHere' })) as Uint8Array;
    expect(theirs.byteLength).toBe(1000);
    expect(theirs.every((b) => b === 7)).toBe(true);
    theirs.set([1, 2, 3, 4]);
    expect(await pool.run(null, { name: 'readKept' })).toEqual([1, 2, 3, 4]);
    expect(pool.stats().heap.blocks).toBe(1);
    // Freed on the other side from where it was allocated, both ways.
    pool.free(theirs);
    const mine = pool.alloc(10);
    expect(await pool.run(mine, { name: 'freeHere' })).toBe('freed');
    expect(pool.stats().heap.blocks).toBe(0);
  });

  it('refuses misuse: double free, a view not from the pool, a subarray, bad sizes — on both sides', async () => {
    const pool = make();
    const other = make();
    const a = pool.alloc(100);
    pool.free(a);
    expect(() => pool.free(a)).toThrow(TypeError);
    expect(() => pool.free(a)).toThrow(/already free/);
    expect(() => pool.free(new Uint8Array(100))).toThrow(TypeError);
    expect(() => pool.free(new Uint8Array(new SharedArrayBuffer(256), 64, 32))).toThrow(TypeError);
    expect(() => pool.free(pool.alloc(300).subarray(8))).toThrow(TypeError);
    const b = pool.alloc(100);
    expect(() => other.free(b)).toThrow(TypeError); // another pool's heap
    pool.free(b);
    expect(() => pool.free({} as Uint8Array)).toThrow(TypeError);
    expect(() => pool.alloc(-1)).toThrow(RangeError);
    expect(() => pool.alloc(1.5)).toThrow(RangeError);
    expect(() => pool.alloc('8' as unknown as number)).toThrow(TypeError);
    expect(() => pool.alloc(4 * MiB + 1)).toThrow(/largest block/);
    expect(await pool.run(null, { name: 'misuse' })).toEqual({
      double: 'TypeError',
      foreign: 'TypeError',
      sharedForeign: 'TypeError',
      subarray: 'TypeError',
      prefix: 'TypeError',
      neighbour: 'TypeError',
      notView: 'TypeError',
      tooLarge: 'RangeError',
      negative: 'RangeError',
    });
    // A view freed by the thread cannot be freed here again.
    const c = pool.alloc(50);
    await pool.run(c, { name: 'freeHere' });
    expect(() => pool.free(c)).toThrow(/already free/);
  });

  it('after close(): alloc() throws a PoolClosedError, free() does nothing', async () => {
    const pool = make();
    const view = pool.alloc(10);
    await pool.close();
    expect(() => pool.alloc(10)).toThrow(PoolClosedError);
    pool.free(view);
    expect(() => pool.free(7 as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('joining', () => {
  it('a thread started later reads payloads in segments created before it started', async () => {
    const pool = make({ threads: 1 });
    pool.on('error', () => {});
    const sizes = [1000, 20 * KiB, 300 * KiB, MiB];
    for (const n of sizes) await pool.run(randomBytes(n)); // segments of these classes now exist
    await expect(pool.run(null, { name: 'die' })).rejects.toThrow(/died/);
    // Its replacement subscribed after those segments were announced: it learns them from the main thread.
    for (const n of sizes) {
      const bytes = randomBytes(n);
      expect(Buffer.compare((await pool.run(bytes)) as Uint8Array, bytes)).toBe(0);
    }
    const view = pool.alloc(20 * KiB); // a block of an old segment, by reference
    view[0] = 1;
    await pool.run(view, { name: 'poke' });
    expect(view[1]).toBe(2);
    pool.free(view);
  });
});

describe('the fallback past the heap', () => {
  it('sends a payload above maxBlockBytes by MessagePort, both ways, exactly', async () => {
    const pool = make({ heap: { maxBytes: 4 * MiB, maxBlockBytes: 256 * KiB } });
    const bytes = randomBytes(MiB);
    expect(Buffer.compare((await pool.run(bytes)) as Uint8Array, bytes)).toBe(0);
    const text = 'y'.repeat(600 * KiB);
    expect(await pool.run({ text })).toEqual({ text });
    expect(pool.stats().heap.segments).toBe(0); // never in the heap
    expect(() => pool.alloc(256 * KiB + 1)).toThrow(RangeError);
  });

  it('sends by MessagePort what finds the heap full, and every task still comes back exactly', async () => {
    const pool = make({ heap: { maxBytes: 4 * MiB, maxBlockBytes: 512 * KiB } });
    // Fill the heap with blocks held here, until it says it is full.
    const held: Uint8Array[] = [];
    for (;;) {
      try {
        held.push(pool.alloc(512 * KiB));
      } catch (error) {
        expect((error as Error).message).toMatch(/full/);
        break;
      }
    }
    const tasks = Array.from({ length: 24 }, (_, i) => randomBytes(100 * KiB + i));
    const backs = (await Promise.all(tasks.map((t) => pool.run(t)))) as Uint8Array[];
    for (let i = 0; i < tasks.length; i++) expect(Buffer.compare(backs[i]!, tasks[i]!)).toBe(0);
    expect(pool.stats().heap.blocks).toBe(held.length); // the tasks took no block: they went by MessagePort
    expect(pool.stats().heap.bytes).toBeLessThanOrEqual(4 * MiB);
    for (const v of held) pool.free(v);
    expect(pool.stats().heap.blocks).toBe(0);
  });
});

describe('options', () => {
  it('checks serialization and heap, naming the option', () => {
    const file = fixture('heap-ops.mjs');
    expect(() => new ThreadPool({ filename: file, serialization: 'xml' as 'json' })).toThrow(RangeError);
    expect(() => new ThreadPool({ filename: file, serialization: 5 as unknown as 'json' })).toThrow(/options\.serialization/);
    expect(() => new ThreadPool({ filename: file, heap: null as unknown as object })).toThrow(/options\.heap must be an object/);
    expect(() => new ThreadPool({ filename: file, heap: { maxBytes: 'big' as unknown as number } })).toThrow(TypeError);
    expect(() => new ThreadPool({ filename: file, heap: { maxBytes: -1 } })).toThrow(/options\.heap\.maxBytes/);
    expect(() => new ThreadPool({ filename: file, heap: { maxBlockBytes: 2 ** 40 } })).toThrow(RangeError);
    expect(() => new ThreadPool({ filename: file, heap: { maxBytes: MiB, maxBlockBytes: 4 * MiB } })).toThrow(/options\.heap\.maxBytes/);
    expect(() => new ThreadPool({ filename: file, heap: { floorBytes: 1.5 } })).toThrow(/options\.heap\.floorBytes/);
    expect(() => new ThreadPool({ filename: file, heap: { retireAfterMs: -5 } })).toThrow(/options\.heap\.retireAfterMs/);
    expect(() => new ThreadPool({ filename: file, heap: { maxbytes: 5 } as object })).toThrow(/options\.heap\.maxbytes is not an option/);
  });
});
