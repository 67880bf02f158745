// Each run()'s callbacks run in its caller's async context: onProgress and the promise's
// reactions see the AsyncLocalStorage store of the code that called run(), not that of whichever
// caller's code happened to be running when the result or progress value came in.
import { AsyncLocalStorage } from 'node:async_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { fixture } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

describe('ThreadPool: async context', () => {
  it.each([1, 2, 3])('onProgress and the settlement of many concurrent run() calls each see their caller’s store (round %i)', async () => {
    const pool = new ThreadPool({ filename: fixture('sync-ops.mjs'), threads: 2 });
    pools.push(pool);
    const als = new AsyncLocalStorage<number>();
    const wrong: string[] = [];
    const runs = Array.from({ length: 40 }, (_, caller) =>
      als.run(caller, () =>
        pool
          .run(
            { op: 'progress', steps: 3 },
            {
              onProgress: () => {
                if (als.getStore() !== caller) wrong.push(`progress of ${caller} in ${als.getStore()}`);
              },
            },
          )
          .then((result) => {
            if (als.getStore() !== caller) wrong.push(`result of ${caller} in ${als.getStore()}`);
            return result;
          }),
      ),
    );
    // Awaited from outside any store: the callbacks must not inherit this one either.
    expect(await Promise.all(runs)).toEqual(runs.map(() => 'done'));
    expect(wrong).toEqual([]);
  });

  it('a rejection reaches its caller’s store too', async () => {
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1 });
    pools.push(pool);
    const als = new AsyncLocalStorage<string>();
    const stores = await Promise.all(
      ['a', 'b', 'c'].map((name) => als.run(name, () => pool.run({ op: 'throw', message: name }).catch(() => als.getStore()))),
    );
    expect(stores).toEqual(['a', 'b', 'c']);
  });
});
