import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { fixture, GATE, openGate, STARTED, shared, started, waitFor } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

describe('ThreadPool: minThreads and idleTimeout', () => {
  it('idle threads above minThreads exit; the hot thread (LIFO) is the one kept; the pool grows again on demand', async () => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 3, concurrency: 3, minThreads: 1, idleTimeout: 1000, workerData: { sab } });
    pools.push(pool);
    // The pool starts minThreads threads; three blocking tasks make it start the other two.
    const first = [pool.run({ op: 'gate' }), pool.run({ op: 'gate' }), pool.run({ op: 'gate' })];
    await started(words, 3);
    openGate(words);
    await Promise.all(first);
    Atomics.store(words, STARTED, 0);
    Atomics.store(words, GATE, 0);
    await waitFor(() => pool.stats().waiting === 3, 'three idle threads');
    // One task at a time for ~100 ms: LIFO hands every one to the same (hot) thread,
    // while the other two have been waiting since before — they time out first.
    const used = new Set<number>();
    const until = Date.now() + 100;
    while (Date.now() < until) used.add((await pool.run({ op: 'threadId' })) as number);
    expect(used.size).toBe(1);
    const [hot] = used;
    await waitFor(() => pool.stats().threads === 1, 'the pool to shrink to minThreads');
    expect(await pool.run({ op: 'threadId' })).toBe(hot);
    // Three blocking tasks need three threads: the pool starts them again.
    const blocked = [pool.run({ op: 'gate' }), pool.run({ op: 'gate' }), pool.run({ op: 'gate' })];
    await started(words, 3);
    expect(pool.stats().threads).toBe(3);
    openGate(words);
    await Promise.all(blocked);
    await pool.close();
  });

  it('threads that ran async handlers (and wait with getAsync) retire too', async () => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, concurrency: 2, minThreads: 0, idleTimeout: 100, workerData: { sab } });
    pools.push(pool);
    // Two async handlers pending at once: both threads are in getAsync mode.
    const waiting = [pool.run({ op: 'async-wait' }), pool.run({ op: 'async-wait' })];
    await started(words, 2);
    expect(await pool.run({ op: 'set-flag' })).toBe('flag set');
    expect(await Promise.all(waiting)).toEqual(['flag seen', 'flag seen']);
    await waitFor(() => pool.stats().threads === 0, 'both threads to retire');
    expect(await pool.run({ op: 'echo', value: 'back' })).toBe('back');
    await pool.close();
  });
});

describe('ThreadPool: stats()', () => {
  it('reports threads, running, waiting, queued, completed, failed and timing percentiles', async () => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, concurrency: 2, workerData: { sab } });
    pools.push(pool);
    await waitFor(() => pool.stats().waiting === 2, 'both threads waiting');
    expect(pool.stats()).toMatchObject({ threads: 2, running: 0, waiting: 2, queued: 0, completed: 0, failed: 0 });
    const blocked = [pool.run({ op: 'gate' }), pool.run({ op: 'gate' })];
    await started(words, 2);
    const queued = Array.from({ length: 5 }, (_, i) => pool.run({ op: 'echo', value: i }));
    expect(pool.stats()).toMatchObject({ threads: 2, running: 2, waiting: 0, queued: 5 });
    openGate(words);
    await Promise.all([...blocked, ...queued]);
    await pool.run({ op: 'throw', message: 'x' }).catch(() => {});
    const stats = pool.stats();
    expect(stats).toMatchObject({ completed: 7, failed: 1 });
    expect(stats.runTime.samples).toBe(8);
    expect(stats.runTime.max).toBeGreaterThan(0);
    expect(stats.runTime.p50).toBeLessThanOrEqual(stats.runTime.p99);
    expect(stats.waitTime.samples).toBe(8);
    expect(stats.waitTime.p50).toBeGreaterThanOrEqual(0);
    await pool.close();
  });
});
