// A task's whole life under control: timeouts, recycling, setup/teardown and thread events,
// backpressure, progress, broadcast, utilization.
import { afterEach, describe, expect, it } from 'vitest';
import { PoolClosedError, ThreadPool, TimeoutError, WorkerDiedError, WorkerLoadError } from '../../dist/index.js';
import { fixture, shared, started, waitFor } from './helpers.js';

const pools: { destroy(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

const RAN = 2;
const SAW_TIMEOUT = 3;

function syncPool(options: Partial<ConstructorParameters<typeof ThreadPool>[0]> = {}): {
  pool: ThreadPool;
  words: Int32Array;
  sab: SharedArrayBuffer;
} {
  const { sab, words } = shared();
  const pool = new ThreadPool({ filename: fixture('sync-ops.mjs'), threads: 1, workerData: { sab }, ...options });
  pools.push(pool);
  return { pool, words, sab };
}

describe('run(task, { timeout })', () => {
  it.each([1, 2])('stops a synchronous for (;;) by terminating its thread; the pool replaces it and keeps serving (round %i)', async () => {
    const { pool, words } = syncPool();
    const exits: string[] = [];
    pool.on('threadExit', (thread) => exits.push(thread.reason));
    const t0 = performance.now();
    const error = (await pool.run({ op: 'forever' }, { timeout: 100 }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.name).toBe('TimeoutError');
    expect((error as Error & { code: string }).code).toBe('ERR_POOL_TASK_TIMEOUT');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(99);
    expect(Atomics.load(words, 0)).toBe(1); // it did start
    expect(await pool.run({ op: 'echo', value: 'still serving' })).toBe('still serving');
    await waitFor(() => exits.includes('timeout'), "the thread's exit");
    expect(pool.stats().threads).toBe(1);
  });

  it('counts from when the handler starts: 300 ms in the queue do not count', async () => {
    const { pool } = syncPool();
    const first = pool.run({ op: 'busy', ms: 300, value: 'first' });
    const inTime = pool.run({ op: 'busy', ms: 20, value: 'in time' }, { timeout: 200 });
    const late = pool.run({ op: 'busy', ms: 400, value: 'late' }, { timeout: 200 });
    expect(await first).toBe('first');
    expect(await inTime).toBe('in time'); // waited ~300 ms, ran 20 ms: within its 200 ms
    await expect(late).rejects.toBeInstanceOf(TimeoutError);
  });

  it('an async handler sees its signal abort with a TimeoutError, returns, and keeps its thread', async () => {
    const { pool, words } = syncPool();
    const exits: string[] = [];
    pool.on('threadExit', (thread) => exits.push(thread.reason));
    const before = await pool.run({ op: 'threadId' });
    await expect(pool.run({ op: 'await-abort' }, { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
    await waitFor(() => Atomics.load(words, SAW_TIMEOUT) === 1, 'the handler to see its signal');
    // It returned within the grace: the same thread serves on, nothing exited.
    expect(await pool.run({ op: 'threadId' })).toBe(before);
    expect(exits).toEqual([]);
  });

  it.each([1, 2, 3])(
    'a handler that never settles: its thread is asked to leave and does, from its event loop — not terminated inside a port call (round %i)',
    async () => {
      const { pool, words } = syncPool({ threads: 1 });
      const exits: { reason: string; code: number }[] = [];
      pool.on('threadExit', (thread) => exits.push({ reason: thread.reason, code: thread.code }));
      const stuck = pool.run({ op: 'await-forever' }, { timeout: 20 }).catch((e: unknown) => e);
      await started(words, 1);
      expect(await stuck).toBeInstanceOf(TimeoutError);
      await waitFor(() => exits.length === 1, "the thread's exit");
      // 204: it left by itself when the message came (a terminate() would say 1).
      expect(exits).toEqual([{ reason: 'timeout', code: 204 }]);
      expect(await pool.run({ op: 'echo', value: 'after' })).toBe('after');
    },
  );

  it("the stopped thread's other tasks fail with WorkerDiedError; tasks on other threads do not", async () => {
    const { pool, words } = syncPool({ threads: 1 });
    const pendingOnIt = pool.run({ op: 'await-forever' }).catch((e: unknown) => e);
    await started(words, 1);
    const stuck = pool.run({ op: 'forever' }, { timeout: 100 }).catch((e: unknown) => e);
    expect(await stuck).toBeInstanceOf(TimeoutError);
    const other = (await pendingOnIt) as Error;
    expect(other).toBeInstanceOf(WorkerDiedError);
    expect(other.message).toMatch(/ran past its timeout/);
    expect(await pool.run({ op: 'echo', value: 1 })).toBe(1);
  });

  it.each([
    ['0', 0, RangeError],
    ['-5', -5, RangeError],
    ['NaN', Number.NaN, RangeError],
    ["'5'", '5', TypeError],
    // Beyond the longest timer Node arms (2^31 − 1 ms), setTimeout() fires after 1 ms and warns.
    ['2 ** 31', 2 ** 31, RangeError],
    ['1e12', 1e12, RangeError],
  ])('rejects timeout %s naming it, and leaks nothing', async (_, timeout, type) => {
    const { pool } = syncPool({ slots: 1 });
    const error = (await pool.run({ op: 'echo', value: 1 }, { timeout: timeout as number }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(type);
    expect(error.message).toMatch(/options\.timeout/);
    expect(await pool.run({ op: 'echo', value: 2 })).toBe(2); // the one slot is free
  });
});

describe('run(task, { timeout: Infinity })', () => {
  it('is no timeout: the task runs to its end, no timer is armed, no TimeoutOverflowWarning', async () => {
    const { pool } = syncPool();
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      expect(await pool.run({ op: 'busy', ms: 200, value: 'done' }, { timeout: Infinity })).toBe('done');
      expect(await pool.run({ op: 'echo', value: 'in time' }, { timeout: 2 ** 31 - 1 })).toBe('in time');
      // A warning is emitted on the next tick: let it come if it is coming.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((name) => name === 'TimeoutOverflowWarning')).toEqual([]);
  });
});

describe('recycling', () => {
  it('maxTasksPerThread: the thread changes every N tasks; no task lost, none run twice', async () => {
    const { pool, words } = syncPool({ threads: 1, maxTasksPerThread: 3 });
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) ids.push((await pool.run({ op: 'count' })) as number);
    expect(Atomics.load(words, RAN)).toBe(10);
    expect(new Set(ids.slice(0, 3)).size).toBe(1);
    expect(new Set(ids.slice(3, 6)).size).toBe(1);
    expect(new Set(ids.slice(6, 9)).size).toBe(1);
    expect(new Set([ids[0], ids[3], ids[6], ids[9]]).size).toBe(4);
    // A burst with many in flight: every one runs exactly once across the replacements.
    const burst = await Promise.all(Array.from({ length: 60 }, () => pool.run({ op: 'count' })));
    expect(burst).toHaveLength(60);
    expect(Atomics.load(words, RAN)).toBe(70);
    expect(new Set(burst).size).toBeGreaterThanOrEqual(60 / 3);
  });

  it('maxHeapUsedBeforeRecycle: a thread whose heap grows past it is replaced between tasks', async () => {
    const { pool } = syncPool({ threads: 1, maxHeapUsedBeforeRecycle: 40 * 1024 * 1024 });
    const ids = new Set<number>();
    for (let i = 0; i < 40 && ids.size < 2; i++) {
      ids.add((await pool.run({ op: 'retain', mb: 8 })) as number);
      await new Promise((resolve) => setTimeout(resolve, 3)); // let the 2 ms heap check come round
    }
    expect(ids.size).toBe(2);
  });

  it.each([
    ['0', 0],
    ['1.5', 1.5],
    ['-1', -1],
  ])('rejects maxTasksPerThread %s naming it', (_, value) => {
    expect(() => new ThreadPool({ filename: fixture('sync-ops.mjs'), maxTasksPerThread: value })).toThrow(RangeError);
    expect(() => new ThreadPool({ filename: fixture('sync-ops.mjs'), maxTasksPerThread: value })).toThrow(/options\.maxTasksPerThread/);
  });
});

describe('setup, teardown, threadStart, threadExit, recycle()', () => {
  function lifecyclePool(
    threads: number,
    flags: { failSetup?: boolean; failNext?: number; failEvery?: number; maxTasksPerThread?: number } = {},
  ): { pool: ThreadPool; words: Int32Array } {
    const { sab, words } = shared();
    if (flags.failSetup) Atomics.store(words, 3, 1);
    Atomics.store(words, 4, flags.failNext ?? 0);
    Atomics.store(words, 5, flags.failEvery ?? 0);
    const pool = new ThreadPool({
      filename: fixture('lifecycle.mjs'),
      threads,
      maxTasksPerThread: flags.maxTasksPerThread,
      workerData: { sab, greeting: 'hello' },
    });
    pools.push(pool);
    return { pool, words };
  }

  /** The pool's 'error' events (a setup() failure of a thread started again is reported there). */
  function errorsOf(pool: ThreadPool): Error[] {
    const errors: Error[] = [];
    pool.on('error', (error: Error) => void errors.push(error));
    return errors;
  }

  it('setup(workerData) runs before the first task; teardown() once per thread on close(); the events say so', async () => {
    const { pool, words } = lifecyclePool(3);
    const starts: number[] = [];
    const exits: string[] = [];
    pool.on('threadStart', (thread) => starts.push(thread.threadId));
    pool.on('threadExit', (thread) => exits.push(thread.reason));
    const results = (await Promise.all(Array.from({ length: 30 }, (_, i) => pool.run(i)))) as { greeting: string }[];
    expect(results.every((r) => r.greeting === 'hello')).toBe(true);
    await waitFor(() => starts.length === 3, 'three threadStart events');
    expect(Atomics.load(words, 0)).toBe(3);
    await pool.close();
    expect(Atomics.load(words, 1)).toBe(3); // teardown once per thread, before close() resolved
    expect(exits).toEqual(['close', 'close', 'close']);
  });

  it('no teardown after destroy()', async () => {
    const { pool, words } = lifecyclePool(2);
    await pool.run(1);
    await waitFor(() => Atomics.load(words, 0) === 2, 'both setups');
    await pool.destroy();
    expect(Atomics.load(words, 1)).toBe(0);
  });

  it('a setup() that throws is a WorkerLoadError', async () => {
    const { pool } = lifecyclePool(2, { failSetup: true });
    const error = (await pool.run(1).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(WorkerLoadError);
    expect(error.message).toMatch(/setup\(\) failed: setup refused/);
  });

  it.each([1, 2, 3])(
    'after the pool has served, a new thread whose setup() throws is started again after a backoff; each failure is reported (round %i)',
    async () => {
      const { pool, words } = lifecyclePool(1);
      const errors = errorsOf(pool);
      const exits: string[] = [];
      pool.on('threadExit', (thread) => exits.push(thread.reason));
      await pool.run(1);
      Atomics.store(words, 4, 2); // the next two setup() calls throw
      await pool.recycle(); // its replacement fails, and the one after it
      const served = (await pool.run(2)) as { greeting: string };
      expect(served.greeting).toBe('hello');
      expect(errors.map((e) => e.message)).toEqual([
        expect.stringMatching(/setup\(\) failed \(1 in a row\): a new thread starts in 50 ms .*setup refused this once/),
        expect.stringMatching(/setup\(\) failed \(2 in a row\): a new thread starts in 100 ms/),
      ]);
      expect(exits).toEqual(['recycle', 'stopped', 'stopped']);
      expect(pool.stats().threads).toBe(1);
    },
  );

  it.each([1, 2])('one setup() in four throws, threads recycled every 3 tasks: every run() resolves (round %i)', async () => {
    const { pool, words } = lifecyclePool(2, { failEvery: 4, maxTasksPerThread: 3 });
    const errors = errorsOf(pool);
    for (let batch = 0; batch < 6; batch++) {
      const results = (await Promise.all(Array.from({ length: 12 }, (_, i) => pool.run(batch * 12 + i)))) as { task: number }[];
      expect(results.map((r) => r.task)).toEqual(Array.from({ length: 12 }, (_, i) => batch * 12 + i));
    }
    const calls = Atomics.load(words, 6);
    expect(calls).toBeGreaterThanOrEqual(24); // 72 tasks, 3 per thread
    expect(errors.length).toBeGreaterThanOrEqual(Math.floor(calls / 4) - 1); // each failure reported (the last may be under way)
    expect(errors.every((e) => /setup\(\) failed/.test(e.message))).toBe(true);
  });

  it("before any thread started, one thread's failed setup() is started again once another starts", async () => {
    const { pool } = lifecyclePool(2, { failNext: 1 });
    const served = (await pool.run(1)) as { greeting: string };
    expect(served.greeting).toBe('hello');
    await waitFor(() => pool.stats().threads === 2, 'the failed thread started again');
    await pool.close();
  });

  it('a setup() that fails every time after the pool has served fails the pool at the 8th in a row (about 6 s)', async () => {
    const { pool, words } = lifecyclePool(1);
    const errors = errorsOf(pool);
    await pool.run(1);
    Atomics.store(words, 3, 1); // every setup() throws from now on
    await pool.recycle();
    const outcome = (await pool.run(2).catch((e: unknown) => e)) as Error;
    expect(outcome).toBeInstanceOf(WorkerLoadError);
    expect(outcome.message).toMatch(/setup\(\) failed 8 times in a row \(the last: setup refused\)/);
    expect(errors).toHaveLength(7);
    await expect(pool.run(3)).rejects.toBeInstanceOf(WorkerLoadError);
  });

  it("a teardown() that throws is reported on 'error'; the close completes", async () => {
    const { pool, words } = lifecyclePool(1);
    const errors: Error[] = [];
    pool.on('error', (error) => errors.push(error));
    await pool.run(1);
    Atomics.store(words, 2, 1);
    await pool.close();
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/teardown\(\) failed: teardown refused/);
  });

  it.each([1, 2, 3])('recycle() of idle threads (waiting on their event loops) resolves: each wait is ended, not left (round %i)', async () => {
    const { pool, words } = lifecyclePool(2);
    await pool.broadcast('warm');
    await waitFor(() => pool.stats().waiting === 2, 'both threads to wait');
    const exits: string[] = [];
    pool.on('threadExit', (thread) => exits.push(thread.reason));
    await pool.recycle();
    expect(exits).toEqual(['recycle', 'recycle']);
    expect(Atomics.load(words, 1)).toBe(2);
    expect(((await pool.run('after')) as { task: string }).task).toBe('after');
    await waitFor(() => pool.stats().waiting === 2, 'the new threads to wait');
    expect(pool.stats()).toMatchObject({ threads: 2, running: 0 });
  });

  it('recycle() replaces every thread gracefully: teardown for the old, setup for the new, nothing lost', async () => {
    const { pool, words } = lifecyclePool(2);
    const before = new Set(((await pool.broadcast('who')) as { threadId: number }[]).map((r) => r.threadId));
    expect(before.size).toBe(2);
    const work = Array.from({ length: 100 }, (_, i) => pool.run(i));
    const exits: string[] = [];
    pool.on('threadExit', (thread) => exits.push(thread.reason));
    await pool.recycle();
    expect((await Promise.all(work)).length).toBe(100);
    expect(exits).toEqual(['recycle', 'recycle']);
    expect(Atomics.load(words, 1)).toBe(2); // the old threads' teardowns
    expect(Atomics.load(words, 0)).toBe(4); // and the new threads' setups
    const after = new Set(((await pool.broadcast('who')) as { threadId: number }[]).map((r) => r.threadId));
    expect(after.size).toBe(2);
    for (const id of after) expect(before.has(id)).toBe(false);
  });
});

describe('backpressure: needsDrain and drain', () => {
  it('needsDrain is true at maxQueue queued tasks, and drain fires when it goes back to false', async () => {
    const { pool, words } = syncPool({ threads: 1, maxQueue: 4 });
    const blocker = pool.run({ op: 'busy', ms: 200, started: true, value: 'blocker' });
    await started(words, 1);
    let drains = 0;
    pool.on('drain', () => drains++);
    const queued = [];
    for (let i = 0; i < 3; i++) queued.push(pool.run({ op: 'echo', value: i }));
    expect(pool.needsDrain).toBe(false);
    queued.push(pool.run({ op: 'echo', value: 3 }));
    expect(pool.needsDrain).toBe(true);
    await expect(pool.run({ op: 'echo', value: 4 })).rejects.toThrow(/queue is full/);
    const done = new Promise<void>((resolve) => pool.once('drain', () => resolve()));
    expect(await blocker).toBe('blocker');
    await done;
    expect(pool.needsDrain).toBe(false);
    expect(await Promise.all(queued)).toEqual([0, 1, 2, 3]);
    expect(drains).toBe(1);
  });

  it("with no maxQueue the threshold is threads²; maxQueue: 'auto' is threads²", async () => {
    const { pool, words } = syncPool({ threads: 2 });
    expect(syncPool({ threads: 3, maxQueue: 'auto' }).pool.maxQueue).toBe(9);
    const blockers = [0, 1].map(() => pool.run({ op: 'busy', ms: 150, started: true, value: 0 }));
    await started(words, 2);
    const queued = [];
    for (let i = 0; i < 3; i++) queued.push(pool.run({ op: 'echo', value: i }));
    expect(pool.needsDrain).toBe(false);
    queued.push(pool.run({ op: 'echo', value: 3 }));
    expect(pool.needsDrain).toBe(true); // 4 = 2² queued
    const drained = new Promise<void>((resolve) => pool.once('drain', () => resolve()));
    await Promise.all([...blockers, ...queued]);
    await drained;
  });
});

describe('progress', () => {
  it('onProgress receives the values in order, all of them before run() settles', async () => {
    const { pool } = syncPool({ threads: 2 });
    for (let round = 0; round < 20; round++) {
      const seen: unknown[] = [];
      let settledWith: unknown[] | undefined;
      const result = await pool.run({ op: 'progress', steps: 10, big: round % 2 === 1 }, { onProgress: (v) => seen.push(v) }).then((r) => {
        settledWith = [...seen];
        return r;
      });
      expect(result).toBe('done');
      const steps = settledWith!.map((v) => (typeof v === 'number' ? v : (v as { step: number }).step));
      expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
  });

  it('many tasks in flight: each run() gets its own values; a run() without onProgress is untouched', async () => {
    const { pool } = syncPool({ threads: 2 });
    const seen = Array.from({ length: 50 }, () => [] as unknown[]);
    const runs = seen.map((s, i) =>
      i % 5 === 0 ? pool.run({ op: 'progress', steps: 3 }) : pool.run({ op: 'progress', steps: i % 7 }, { onProgress: (v) => s.push(v) }),
    );
    expect(await Promise.all(runs)).toEqual(seen.map(() => 'done'));
    seen.forEach((s, i) => {
      expect(s).toEqual(i % 5 === 0 ? [] : Array.from({ length: i % 7 }, (_, k) => k + 1));
    });
  });

  it('a task with onProgress that reports nothing sends nothing on its channel; one that reports sends its values and their end', async () => {
    const pool = new ThreadPool({ filename: fixture('progress-posts.mjs'), threads: 1 });
    pools.push(pool);
    const seen: unknown[] = [];
    const onProgress = (v: unknown): void => void seen.push(v);
    // Each result is what the thread had posted before that task finished (its start-up messages first):
    // no more, after tasks that never report.
    const before = (await pool.run({}, { onProgress })) as number;
    for (let i = 0; i < 20; i++) expect(await pool.run({}, { onProgress })).toBe(before);
    expect(await pool.run({ report: 'half' }, { onProgress })).toBe(before + 1);
    expect(seen).toEqual(['half']);
    expect(await pool.run({}, { onProgress })).toBe(before + 2); // the value, then the end of that task's progress
  });

  it('rejects an onProgress that is not a function', async () => {
    const { pool } = syncPool();
    await expect(pool.run({ op: 'echo', value: 1 }, { onProgress: 'x' as never })).rejects.toThrow(/options\.onProgress must be a function/);
  });
});

describe('broadcast', () => {
  it('runs the handler once on every live thread and resolves with the results', async () => {
    const { pool, words } = syncPool({ threads: 3 });
    const ids = (await pool.broadcast({ op: 'count' })) as number[];
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
    expect(Atomics.load(words, RAN)).toBe(3);
    const named = new ThreadPool({ filename: fixture('handlers.mjs'), threads: 2 });
    pools.push(named);
    expect(await named.broadcast(21, { name: 'double' })).toEqual([42, 42]);
    await expect(named.broadcast(1, { name: 'resize' })).rejects.toThrow(/no export named "resize"/);
  });

  it('rejects on a closed pool', async () => {
    const { pool } = syncPool();
    await pool.close();
    await expect(pool.broadcast({ op: 'threadId' })).rejects.toBeInstanceOf(PoolClosedError);
  });
});

describe('stats().utilization', () => {
  it('is high while every thread computes, and 0 over an idle interval', async () => {
    const { pool } = syncPool({ threads: 2 });
    await pool.run({ op: 'echo', value: 0 });
    pool.stats(); // starts an interval
    await Promise.all(Array.from({ length: 80 }, () => pool.run({ op: 'busy', ms: 5, value: 1 })));
    const busy = pool.stats().utilization;
    // Near 1 on a quiet machine; the bound leaves room for a loaded one (threads descheduled).
    expect(busy).toBeGreaterThan(0.25);
    expect(busy).toBeLessThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(pool.stats().utilization).toBe(0);
  });
});
