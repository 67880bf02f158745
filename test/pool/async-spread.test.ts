// Async handlers on the pool's threads (docs/pool.md, "Async handlers"): a thread whose handlers
// await waits behind the idle threads, holds no more than its share of the work in flight, and
// no more than concurrentTasksPerThread; pure waits keep overlapping.
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { fixture, openGate, shared, STARTED, started, waitFor } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

function makePool(sab: SharedArrayBuffer, options: { threads: number; concurrentTasksPerThread?: number }): ThreadPool {
  const pool = new ThreadPool({ filename: fixture('spread.mjs'), concurrency: options.threads, workerData: { sab }, ...options });
  pools.push(pool);
  return pool;
}

/** The largest share of `ids` that one thread has, in %. */
function busiest(ids: number[]): number {
  const counts = new Map<number, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return (100 * Math.max(...counts.values())) / ids.length;
}

describe('ThreadPool: async handlers spread over the threads', () => {
  it('a burst of handlers that await I/O, then compute, splits evenly: the busiest thread runs at most 60 % (median of 7 rounds)', async () => {
    // Without the rule, the thread that comes back from its first await first takes the burst,
    // and all the CPU halves then run one after another on it while the other idles. A round on
    // a machine whose cores are busy elsewhere may be lopsided for a good reason (one thread got
    // no core for a while, and the other rightly did its work): the median says whether the pool
    // spreads.
    const shares: number[] = [];
    for (let round = 0; round < 7; round++) {
      const { sab } = shared();
      const pool = makePool(sab, { threads: 2 });
      await pool.ready;
      const ids = await Promise.all(Array.from({ length: 40 }, () => pool.run({ op: 'io-cpu', ms: 3 })));
      shares.push(busiest(ids as number[]));
      pools.splice(pools.indexOf(pool), 1);
      await pool.destroy();
    }
    shares.sort((a, b) => a - b);
    expect(shares[3], `busiest thread's share per round: ${shares.join(', ')} %`).toBeLessThanOrEqual(60);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('a task goes to an idle thread, not to one whose handler awaits (round %i)', async () => {
    const { sab, words } = shared();
    const pool = makePool(sab, { threads: 2 });
    await pool.ready;
    await waitFor(() => pool.stats().waiting === 2, 'both threads idle in the port');
    const holder = pool.run({ op: 'hold' });
    await started(words, 1);
    // Both threads are in the port again: the idle one, and the one whose handler awaits — now
    // the newest waiter, which LIFO alone would choose.
    await waitFor(() => pool.stats().waiting === 2, 'both threads wait');
    const other = await pool.run({ op: 'who' });
    openGate(words);
    const { threadId } = (await holder) as { threadId: number };
    expect(other).not.toBe(threadId);
  });

  it.each([1, 2, 3])('concurrentTasksPerThread bounds the tasks a thread holds while they await (round %i)', async () => {
    const { sab, words } = shared();
    const pool = makePool(sab, { threads: 2, concurrentTasksPerThread: 3 });
    await pool.ready;
    const all = Array.from({ length: 20 }, () => pool.run({ op: 'hold' }));
    await started(words, 6);
    // Both threads at their cap: neither waits in the port, and the other 14 stay queued.
    await waitFor(() => pool.stats().waiting === 0 && pool.stats().queued === 14, 'both threads at the cap, 14 queued');
    expect(Atomics.load(words, STARTED)).toBe(6);
    openGate(words);
    const results = (await Promise.all(all)) as { held: number }[];
    expect(Math.max(...results.map((r) => r.held))).toBeLessThanOrEqual(3);
  });

  it('awaiting handlers keep overlapping: with the defaults, 400 are in flight at once on 2 threads', async () => {
    const { sab, words } = shared();
    const pool = makePool(sab, { threads: 2 });
    await pool.ready;
    const all = Array.from({ length: 400 }, () => pool.run({ op: 'hold' }));
    await started(words, 400);
    expect(pool.stats().queued).toBe(0);
    openGate(words);
    const results = (await Promise.all(all)) as { threadId: number }[];
    expect(busiest(results.map((r) => r.threadId))).toBeLessThanOrEqual(60);
  });

  it('pure waits overlap: 2,000 × await sleep(200) on 2 threads take well under a second, split evenly', async () => {
    const { sab } = shared();
    const pool = makePool(sab, { threads: 2 });
    await pool.ready;
    await Promise.all(Array.from({ length: 20 }, () => pool.run({ op: 'sleep', ms: 1 })));
    const t0 = performance.now();
    const ids = await Promise.all(Array.from({ length: 2000 }, () => pool.run({ op: 'sleep', ms: 200 })));
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(1000);
    expect(busiest(ids as number[])).toBeLessThanOrEqual(60);
  });

  it('checks concurrentTasksPerThread', () => {
    const { sab } = shared();
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => new ThreadPool({ filename: fixture('spread.mjs'), concurrentTasksPerThread: bad, workerData: { sab } })).toThrow(
        /options\.concurrentTasksPerThread/,
      );
    }
    expect(() => new ThreadPool({ filename: fixture('spread.mjs'), concurrentTasksPerThread: '2' as never })).toThrow(TypeError);
  });
});

describe('ThreadPool: fan-out with the scheduling rule', () => {
  it.each([
    { threads: 2, roots: 12, concurrentTasksPerThread: undefined },
    { threads: 3, roots: 12, concurrentTasksPerThread: undefined },
    { threads: 2, roots: 2, concurrentTasksPerThread: 16 },
  ])(
    'a task tree whose parents await their children completes ($threads threads, $roots roots, cap $concurrentTasksPerThread)',
    async ({ threads, roots, concurrentTasksPerThread }) => {
      // Parents hold their thread's share while children are posted: a thread at its share must
      // see the share grow, or every thread could sit at a stale share with the children queued.
      const { sab } = shared();
      const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads, concurrency: threads, workerData: { sab }, concurrentTasksPerThread });
      pools.push(pool);
      const trees = Array.from({ length: roots }, () => pool.run({ op: 'fanout', depth: 3, width: 3 }));
      expect(await Promise.all(trees)).toEqual(Array(roots).fill(27));
    },
  );
});
