import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool, WorkerLoadError } from '../../dist/index.js';
import { fixture, shared } from './helpers.js';

const pools: ThreadPool[] = [];
function make(options: ConstructorParameters<typeof ThreadPool>[0]): ThreadPool {
  const pool = new ThreadPool(options);
  pools.push(pool);
  return pool;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

describe('ThreadPool: construction and run()', () => {
  it('defaults to the rules of the original articles: threads = 2 × cores, concurrency = cores', async () => {
    const pool = make({ filename: fixture('ops.mjs') });
    expect(pool.threads).toBe(2 * availableParallelism());
    expect(pool.concurrency).toBe(availableParallelism());
    expect(pool.stats().threads).toBe(2 * availableParallelism());
    await pool.close();
  });

  it('resolves with a sync handler result and an async one', async () => {
    const { sab } = shared();
    const pool = make({ filename: fixture('ops.mjs'), threads: 2, workerData: { sab } });
    expect(await pool.run({ op: 'echo', value: 41 })).toBe(41);
    expect(await pool.run({ op: 'async-echo', value: 'later' })).toBe('later');
    await pool.close();
  });

  it('carries every kind of value through the arena and the fallback both ways', async () => {
    const { sab } = shared();
    const pool = make({ filename: fixture('ops.mjs'), threads: 2, slotBytes: 256, workerData: { sab } });
    const values: unknown[] = [
      0,
      -1.5,
      Number.MAX_VALUE,
      NaN,
      Infinity,
      true,
      false,
      null,
      undefined,
      '',
      'short',
      'é€😀',
      'y'.repeat(5000),
      { a: [1, 2, { b: 'c' }] },
      new Map([[1, 2]]),
      12n,
      new Date(0),
      new Uint8Array([1, 2, 3]),
      Array.from({ length: 2000 }, (_, i) => i),
    ];
    for (const value of values) expect(await pool.run({ op: 'echo', value })).toEqual(value);
    const results = await Promise.all(values.map((value) => pool.run({ op: 'echo', value })));
    expect(results).toEqual(values);
    expect(await pool.run({ op: 'big', length: 100_000 })).toHaveLength(100_000);
    await pool.close();
  });

  it('moves a transferList (the task goes by MessagePort)', async () => {
    const { sab } = shared();
    const pool = make({ filename: fixture('ops.mjs'), threads: 1, workerData: { sab } });
    const buffer = new Uint8Array([1, 2, 3, 4]).buffer;
    const result = await pool.run({ op: 'bytes', buffer }, { transferList: [buffer] });
    expect(result).toEqual({ length: 4, sum: 10 });
    expect(buffer.byteLength).toBe(0); // transferred, not copied
    await pool.close();
  });

  it('rejects a task or a result that cannot be cloned, and only that one', async () => {
    const { sab } = shared();
    const pool = make({ filename: fixture('ops.mjs'), threads: 1, workerData: { sab } });
    await expect(pool.run({ op: 'echo', value: () => 1 })).rejects.toThrow(/could not be cloned/);
    await expect(pool.run({ op: 'fn' })).rejects.toThrow(/could not be cloned/);
    expect(await pool.run({ op: 'echo', value: 'still fine' })).toBe('still fine');
    await pool.close();
  });

  it.each([
    ['a named handler export', 'named.mjs', 'named:1'],
    ['a CommonJS module.exports function', 'commonjs.cjs', 'cjs:1'],
    ['a CommonJS { handler } object', 'commonjs-object.cjs', 'cjs-object:1'],
  ])('loads %s', async (_, file, expected) => {
    const pool = make({ filename: fixture(file), threads: 1 });
    expect(await pool.run(1)).toBe(expected);
    await pool.close();
  });

  it('accepts a file: URL, as a string or a URL', async () => {
    const url = pathToFileURL(fixture('named.mjs'));
    const a = make({ filename: url, threads: 1 });
    const b = make({ filename: url.href, threads: 1 });
    expect(await a.run(2)).toBe('named:2');
    expect(await b.run(3)).toBe('named:3');
    await Promise.all([a.close(), b.close()]);
  });

  it.each([
    ['a module that does not exist', 'missing.mjs', /missing\.mjs failed to load/],
    ['a module that throws while loading', 'throws-on-load.mjs', /failed to load: broken at load time/],
    ['a module that exports no function', 'no-function.mjs', /exports no function/],
    ['a module that calls process.exit while loading', 'exits-on-load.mjs', /failed to load: it called process.exit\(7\)/],
  ])('rejects run() (never hangs) for %s', async (_, file, message) => {
    const pool = make({ filename: fixture(file), threads: 2 });
    const pending = pool.run({ op: 'echo', value: 1 });
    await expect(pending).rejects.toThrow(message);
    await expect(pending).rejects.toBeInstanceOf(WorkerLoadError);
    await expect(pool.ready).rejects.toThrow(message);
    await expect(pool.run({ op: 'echo', value: 2 })).rejects.toThrow(message);
    await pool.close();
    expect(pool.stats().threads).toBe(0);
  });

  it('checks its options', () => {
    expect(() => new ThreadPool({ filename: '' })).toThrow(TypeError);
    expect(() => new ThreadPool({ filename: fixture('ops.mjs'), threads: 0 })).toThrow(/threads/);
    expect(() => new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, minThreads: 3 })).toThrow(/minThreads/);
    expect(() => new ThreadPool({ filename: new URL('https://example.com/x.mjs') })).toThrow(/file: URL/);
  });
});
