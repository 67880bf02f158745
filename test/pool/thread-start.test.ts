// The pool's thread start policy: minThreads at construction, one more only when work outnumbers
// the threads free to take it (waiting on the port or still starting).
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { fixture, openGate, shared, started } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

function pool(options: ConstructorParameters<typeof ThreadPool>[0]): ThreadPool {
  const p = new ThreadPool(options);
  pools.push(p);
  return p;
}

describe('ThreadPool: thread start policy', () => {
  it('starts minThreads threads (at least one) at construction, not threads', () => {
    expect(pool({ filename: fixture('ops.mjs'), threads: 4, minThreads: 1 }).threadInfo()).toHaveLength(1);
    expect(pool({ filename: fixture('ops.mjs'), threads: 4, minThreads: 0 }).threadInfo()).toHaveLength(1);
    expect(pool({ filename: fixture('ops.mjs'), threads: 4, minThreads: 2 }).threadInfo()).toHaveLength(2);
    expect(pool({ filename: fixture('ops.mjs'), threads: 3 }).threadInfo()).toHaveLength(3);
  });

  it.each([1, 2, 3])('a task run while the only thread is still starting does not start another (round %i)', async () => {
    const p = pool({ filename: fixture('ops.mjs'), threads: 4, minThreads: 1 });
    expect(await p.run({ op: 'echo', value: 1 })).toBe(1);
    expect(p.threadInfo()).toHaveLength(1);
  });

  it.each([1, 2, 3, 4])('tasks fed one at a time start no thread: the thread whose result was just read takes the next (round %i)', async () => {
    // idleTimeout 0: a thread started needlessly would leave at once and be started again.
    const p = pool({ filename: fixture('ops.mjs'), threads: 4, minThreads: 1, idleTimeout: 0 });
    let starts = 0;
    p.on('threadStart', () => starts++);
    for (let i = 0; i < 30; i++) {
      // Sync and async handlers (a thread that ran an async one waits with getAsync).
      expect(await p.run({ op: i % 2 === 0 ? 'echo' : 'async-echo', value: i })).toBe(i);
      if (i % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 2)); // the workload's gaps
    }
    expect(starts).toBe(1);
  });

  it.each([1, 2, 3])('grows one thread per task that finds every thread busy, up to threads (round %i)', async () => {
    const { sab, words } = shared();
    // concurrency 3: three blocked threads all count as running on the port.
    const p = pool({ filename: fixture('ops.mjs'), threads: 3, concurrency: 3, minThreads: 1, workerData: { sab } });
    const first = p.run({ op: 'gate' });
    await started(words, 1);
    expect(p.threadInfo()).toHaveLength(1);
    // Two more blocking tasks: the busy thread cannot take them, so two threads start.
    const more = [p.run({ op: 'gate' }), p.run({ op: 'gate' })];
    await started(words, 3);
    expect(p.threadInfo()).toHaveLength(3);
    // At threads: more work waits in the queue.
    const queued = p.run({ op: 'echo', value: 'after' });
    expect(p.threadInfo()).toHaveLength(3);
    openGate(words);
    expect(await Promise.all([first, ...more, queued])).toEqual(['gate passed', 'gate passed', 'gate passed', 'after']);
  });
});
