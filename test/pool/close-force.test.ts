// close({ force: true }): the tasks not started yet reject at once; the running ones finish.
import { afterEach, describe, expect, it } from 'vitest';
import { PoolClosedError, ThreadPool } from '../../dist/index.js';
import { fixture, openGate, shared, started } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

describe('ThreadPool: close({ force: true })', () => {
  it.each([1, 2, 3])('rejects the tasks queued in slots and in the backlog; the running ones finish; close() resolves (round %i)', async () => {
    const { sab, words } = shared();
    // Few slots: of the 40 queued tasks, most wait in the backlog, the rest in slots.
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, concurrency: 2, slots: 8, workerData: { sab } });
    pools.push(pool);
    const running = [pool.run({ op: 'gate', value: 'a' }), pool.run({ op: 'gate', value: 'b' })];
    await started(words, 2);
    const queued = Array.from({ length: 40 }, (_, i) =>
      pool.run({ op: 'count' }).then(
        () => `ran ${i}`,
        (e: Error) => e,
      ),
    );
    const closing = pool.close({ force: true });
    // They settle before anything more runs: the gate is still shut.
    for (const outcome of await Promise.all(queued)) {
      expect(outcome).toBeInstanceOf(PoolClosedError);
      expect((outcome as Error).message).toMatch(/close\(\{ force: true \}\) before this task started/);
    }
    openGate(words);
    expect(await Promise.all(running)).toEqual(['a', 'b']);
    await closing;
    expect(Atomics.load(words, 4)).toBe(0); // no 'count' task ran
    expect(pool.stats().threads).toBe(0);
  });

  it('without force, the queued tasks run before close() resolves', async () => {
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1 });
    pools.push(pool);
    const queued = Array.from({ length: 10 }, (_, i) => pool.run({ op: 'echo', value: i }));
    await pool.close({ force: false });
    expect(await Promise.all(queued)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it('checks the option', async () => {
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1 });
    pools.push(pool);
    await expect(pool.close({ force: 'yes' } as never)).rejects.toThrow(new TypeError('options.force must be a boolean, got string'));
    await expect(pool.close({ forse: true } as never)).rejects.toThrow(/close\(\) options\.forse is not an option: did you mean force\?/);
  });
});
