import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { COUNTER, fixture, shared, started, waitFor } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

describe('ThreadPool: async handlers and the concurrency cap', () => {
  // With concurrency 1, a thread that held its running slot while awaiting would keep 'set-flag'
  // from ever running, and 'async-wait' would never see the flag: this test would time out.
  it.each([1, 2, 3, 4, 5])('an awaiting thread counts as blocked, so another task runs (round %i)', async () => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, concurrency: 1, workerData: { sab } });
    pools.push(pool);
    const waiting = pool.run({ op: 'async-wait' });
    await started(words, 1);
    expect(await pool.run({ op: 'set-flag' })).toBe('flag set');
    expect(await waiting).toBe('flag seen');
    await pool.close();
  });

  it('a single thread keeps taking tasks while its async handlers await', async () => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1, concurrency: 1, workerData: { sab } });
    pools.push(pool);
    const waiters = [pool.run({ op: 'async-wait' }), pool.run({ op: 'async-wait' }), pool.run({ op: 'async-wait' })];
    await started(words, 3); // all three started on the one thread: its event loop ran between them
    expect(await pool.run({ op: 'set-flag' })).toBe('flag set');
    expect(await Promise.all(waiters)).toEqual(['flag seen', 'flag seen', 'flag seen']);
    await pool.close();
  });
});

describe('ThreadPool: fan-out from a worker', () => {
  it.each([1, 2, 3])('run() from handlers on every thread completes a task tree without deadlock (threads = %i)', async (threads) => {
    const { sab } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads, concurrency: threads, workerData: { sab } });
    pools.push(pool);
    // 4 roots × 3^4 leaves: every thread is busy with parents awaiting children.
    const roots = Array.from({ length: 4 }, () => pool.run({ op: 'fanout', depth: 4, width: 3 }));
    expect(await Promise.all(roots)).toEqual([81, 81, 81, 81]);
    await pool.close();
  });

  it('queueRequest from a sync handler posts to the same port (the IOCP way)', async () => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, workerData: { sab } });
    pools.push(pool);
    for (let i = 0; i < 20; i++) pool.queueRequest(-4); // each posts 10 more requests of 1
    await waitFor(() => Atomics.load(words, COUNTER) === 200, '200 fanned-out requests');
    await pool.close();
    expect(Atomics.load(words, COUNTER)).toBe(200);
  });
});
