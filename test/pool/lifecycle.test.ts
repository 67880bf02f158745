import { afterEach, describe, expect, it } from 'vitest';
import { PoolClosedError, ThreadPool } from '../../dist/index.js';
import { COUNTER, fixture, openGate, shared, started, waitFor } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

describe('ThreadPool: close()', () => {
  it.each([1, 2, 3])('completes everything queued before the sentinels, then resolves (round %i)', async () => {
    const { sab, words } = shared();
    // Few slots: most run() tasks wait in the pool's backlog when close() is called.
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 3, slots: 16, workerData: { sab } });
    pools.push(pool);
    const results = Array.from({ length: 2000 }, (_, i) => pool.run({ op: 'echo', value: i }));
    for (let i = 0; i < 500; i++) expect(pool.queueRequest(i)).toBe(true);
    const closed = pool.close();
    expect(pool.queueRequest(1)).toBe(false);
    await expect(pool.run({ op: 'echo', value: 'late' })).rejects.toBeInstanceOf(PoolClosedError);
    await expect(pool.run({ op: 'echo', value: 'late' })).rejects.toThrow(/run\(\) after close\(\)/);
    await closed;
    // Every run() settled before close() resolved, and every request was handled.
    let settled = 0;
    for (const r of results) void r.then(() => settled++);
    await Promise.resolve();
    expect(settled).toBe(2000);
    expect(await Promise.all(results)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(Atomics.load(words, COUNTER)).toBe(500);
    expect(pool.stats()).toMatchObject({ threads: 0, completed: 2500, failed: 0 });
    expect(pool.port.closed).toBe(true);
    expect(await pool.close()).toBeUndefined(); // idempotent
  });

  it('waits for async handlers still running when their thread takes its sentinel', async () => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1, workerData: { sab } });
    pools.push(pool);
    const slow = pool.run({ op: 'async-wait' });
    await started(words, 1);
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    // Handshake: the thread took its sentinel (nothing queued, nobody waiting on the port) …
    await waitFor(() => {
      const s = pool.stats();
      return s.queued === 0 && s.waiting === 0;
    }, 'the thread to take its sentinel');
    // … yet close() waits, because the thread's async handler is still pending.
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    expect(pool.stats().threads).toBe(1);
    Atomics.store(words, 3, 1);
    Atomics.notify(words, 3);
    expect(await slow).toBe('flag seen');
    await closing;
    expect(closed).toBe(true);
  });
});

describe('ThreadPool: destroy()', () => {
  it('rejects every pending run() — running and queued — and resolves when the threads are gone', async () => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, slots: 4, workerData: { sab } });
    pools.push(pool);
    const blocked = [pool.run({ op: 'gate' }), pool.run({ op: 'gate' })];
    await started(words, 2);
    const queued = Array.from({ length: 20 }, (_, i) => pool.run({ op: 'echo', value: i }));
    const all = [...blocked, ...queued].map((p) =>
      p.then(
        () => 'resolved',
        (e: Error) => e,
      ),
    );
    await pool.destroy();
    for (const outcome of await Promise.all(all)) {
      expect(outcome).toBeInstanceOf(PoolClosedError);
      expect((outcome as Error).message).toMatch(/destroyed/);
    }
    expect(pool.stats().threads).toBe(0);
    await expect(pool.run({ op: 'echo', value: 1 })).rejects.toThrow(/run\(\) after destroy\(\)/);
    expect(pool.queueRequest(1)).toBe(false);
    openGate(words);
  });
});
