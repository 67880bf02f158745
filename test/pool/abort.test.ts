import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError, QueueFullError, ThreadPool } from '../../dist/index.js';
import { fixture, openGate, RAN, shared, started } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

describe('ThreadPool: AbortSignal', () => {
  it.each([[4096], [1]])('a queued task that is aborted never runs and rejects with AbortError (slots = %i)', async (slots) => {
    for (let round = 0; round < 5; round++) {
      const { sab, words } = shared();
      const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1, slots, workerData: { sab } });
      pools.push(pool);
      const blocker = pool.run({ op: 'gate' });
      await started(words, 1);
      const controller = new AbortController();
      const aborted = pool.run({ op: 'count' }, { signal: controller.signal });
      const after = pool.run({ op: 'echo', value: 'after' });
      controller.abort();
      const error = (await aborted.catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(AbortError);
      expect(error.name).toBe('AbortError');
      openGate(words);
      expect(await blocker).toBe('gate passed');
      expect(await after).toBe('after'); // FIFO: the aborted task's packet was taken before this one
      expect(Atomics.load(words, RAN)).toBe(0);
      expect(pool.stats().failed).toBe(1);
      await pool.close();
    }
  });

  it('an already aborted signal rejects at once', async () => {
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1 });
    pools.push(pool);
    await expect(pool.run({ op: 'count' }, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    await pool.close();
  });

  it('a running handler receives the signal and may stop early', async () => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, workerData: { sab } });
    pools.push(pool);
    const controller = new AbortController();
    const running = pool.run({ op: 'signal' }, { signal: controller.signal });
    await started(words, 1);
    controller.abort();
    expect(await running).toBe('stopped early: AbortError');
    expect(await pool.run({ op: 'signal' })).toBe('no signal');
    await pool.close();
  });

  it('one signal shared by many tasks gets one listener: no MaxListenersExceededWarning, none left behind', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const { sab, words } = shared();
      // 16 slots: of 500 tasks, at most 16 run or wait in slots, the rest wait in the backlog.
      const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, slots: 16, workerData: { sab } });
      pools.push(pool);
      const controller = new AbortController();
      const { signal } = controller;
      // Settled normally: the listener goes with the last task.
      await Promise.all(Array.from({ length: 500 }, (_, i) => pool.run({ op: 'echo', value: i }, { signal })));
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      // Aborted: running handlers see it, queued and backlogged tasks reject.
      const runs = Array.from({ length: 500 }, () => pool.run({ op: 'signal' }, { signal }).catch((e: unknown) => e));
      await started(words, 2);
      expect(getEventListeners(signal, 'abort')).toHaveLength(1);
      controller.abort();
      const outcomes = await Promise.all(runs);
      const stopped = outcomes.filter((o) => o === 'stopped early: AbortError').length;
      const rejected = outcomes.filter((o) => o instanceof AbortError).length;
      // Async handlers: a thread takes more tasks while one awaits, so up to all 16 slots run.
      expect(stopped).toBeGreaterThanOrEqual(2);
      expect(stopped).toBeLessThanOrEqual(16);
      expect(stopped + rejected).toBe(500);
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      expect(await pool.run({ op: 'echo', value: 'after' })).toBe('after');
      await pool.close();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => w.name)).toEqual([]);
  });
});

describe('ThreadPool: maxQueue', () => {
  it('rejects run() with a queue-full error beyond maxQueue tasks waiting to start', async () => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1, maxQueue: 2, workerData: { sab } });
    pools.push(pool);
    const running = pool.run({ op: 'gate' });
    await started(words, 1); // running, so not queued
    const queued = [pool.run({ op: 'echo', value: 1 }), pool.run({ op: 'echo', value: 2 })];
    const error = (await pool.run({ op: 'echo', value: 3 }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error.message).toMatch(/queue is full \(maxQueue = 2\)/);
    openGate(words);
    expect(await running).toBe('gate passed');
    expect(await Promise.all(queued)).toEqual([1, 2]);
    expect(await pool.run({ op: 'echo', value: 4 })).toBe(4); // room again
    await pool.close();
  });
});
