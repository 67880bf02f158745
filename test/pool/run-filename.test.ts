// run(task, { filename }): a task for another worker module than the pool's.
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { fixture } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

function pool(options: Partial<ConstructorParameters<typeof ThreadPool>[0]> = {}): ThreadPool {
  const p = new ThreadPool({ filename: fixture('handlers.mjs'), threads: 2, concurrency: 2, ...options });
  pools.push(p);
  return p;
}

const other = fixture('other-module.mjs');

describe('ThreadPool: run(task, { filename })', () => {
  it('runs the other module’s default handler, or the export named, sync or async; the pool’s own stay as they were', async () => {
    const p = pool();
    expect(await p.run(5, { filename: other })).toMatchObject({ from: 'other', x: 5 });
    expect(await p.run(5, { filename: other, name: 'triple' })).toBe(15);
    expect(await p.run(5, { filename: pathToFileURL(other), name: 'later' })).toBe('later:5');
    expect(await p.run(5, { filename: pathToFileURL(other).href, name: 'triple' })).toBe(15);
    expect(await p.run(5)).toBe('default:5');
    expect(await p.run(5, { name: 'double' })).toBe(10);
    // The pool's own module named by filename: its handlers, as without it.
    expect(await p.run(5, { filename: fixture('handlers.mjs'), name: 'double' })).toBe(10);
  });

  it.each([1, 2, 3])('each thread loads the other module once, and many tasks in flight share it (round %i)', async () => {
    const p = pool();
    const results = (await Promise.all(Array.from({ length: 400 }, (_, i) => p.run(i, { filename: other })))) as {
      x: number;
      threadId: number;
      loads: number;
    }[];
    expect(results.map((r) => r.x)).toEqual(Array.from({ length: 400 }, (_, i) => i));
    for (const r of results) expect(r.loads).toBe(1);
  });

  it('uses the pool’s name option when run() names none', async () => {
    const p = pool({ name: 'double' });
    expect(await p.run(2, { filename: other, name: 'triple' })).toBe(6);
    await expect(p.run(2, { filename: other })).rejects.toThrow(/no export named "double"/);
  });

  it('rejects with what the other module’s handler throws, a missing export, or a module that does not load; the pool goes on', async () => {
    const p = pool();
    await expect(p.run(1, { filename: other, name: 'fails' })).rejects.toThrow(new RangeError('other module failed'));
    await expect(p.run(1, { filename: other, name: 'resize' })).rejects.toThrow(/other-module\.mjs has no export named "resize"/);
    await expect(p.run(1, { filename: fixture('no-such-module.mjs') })).rejects.toThrow(/no-such-module\.mjs failed to load/);
    expect(await p.run(1, { filename: other, name: 'triple' })).toBe(3);
    expect(await p.run(1)).toBe('default:1');
  });

  it('rejects a filename that is neither a path nor a file: URL with a TypeError', async () => {
    const p = pool();
    await expect(p.run(1, { filename: 42 as never })).rejects.toThrow(
      new TypeError('options.filename must be the path or file: URL of the worker module'),
    );
    await expect(p.run(1, { filename: new URL('https://example.com/w.mjs') })).rejects.toThrow(/options\.filename must be a path or a file: URL/);
  });
});
