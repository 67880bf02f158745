// closeWorker(): the worker, then the pool — every job completed or back in the queue, none failed, none left active.
import { Job, type Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { closeWorker, createWorker } from '../../dist/bullmq.js';
import { ABORTED, counts, harness, openGate, STARTED, until } from './helpers.js';
import { redisBinary, SKIP_REASON } from './redis.js';

const JOBS = 20;
const CONCURRENCY = 6;

describe.skipIf(redisBinary === undefined)(`iocp-pool/bullmq: closeWorker()${redisBinary ? '' : ` (${SKIP_REASON})`}`, () => {
  const h = harness();

  /** A worker holding CONCURRENCY jobs, all started on its 2-thread pool; the rest wait in Redis. */
  async function busyWorker(op: 'gate' | 'block', cancellation = true) {
    const queue = h.queue();
    const { pool, words, runs } = h.pool({ threads: op === 'block' ? CONCURRENCY : 2 });
    const worker = h.track(createWorker(queue.name, pool, { connection: h.redis.connection, concurrency: CONCURRENCY, cancellation }));
    await queue.addBulk(Array.from({ length: JOBS }, (_, id) => ({ name: 'ops', data: { op, id } })));
    // Async handlers let one thread run several (it waits with getAsync); sync ones need a thread each.
    await until(() => Atomics.load(words, STARTED) === CONCURRENCY, `${CONCURRENCY} jobs to start on the pool`);
    expect(await counts(queue)).toMatchObject({ active: CONCURRENCY, waiting: JOBS - CONCURRENCY });
    return { queue, pool, words, runs, worker };
  }

  /** Another machine: a fresh worker and pool take what is left; every job's result is checked. */
  async function drainElsewhere(queue: Queue, runs: Int32Array) {
    const other = h.pool({ runs });
    openGate(other.words);
    h.track(createWorker(queue.name, other.pool, { connection: h.redis.connection, concurrency: CONCURRENCY }));
    await until(async () => (await counts(queue)).completed === JOBS, 'every job to complete');
    const jobs = await queue.getCompleted(0, JOBS);
    expect(jobs.map((job) => job.returnvalue.done).sort((a, b) => a - b)).toEqual([...Array(JOBS).keys()]);
  }

  it('waits for the jobs in flight, takes no more, then closes the pool: nothing failed, nothing left active', async () => {
    const { queue, pool, words, runs, worker } = await busyWorker('gate');
    let closed = false;
    const closing = closeWorker(worker, pool).then((result) => {
      closed = true;
      return result;
    });
    await until(() => worker.closing !== undefined, 'the worker to start closing');
    // Still waiting on its jobs, and took none more.
    expect(closed).toBe(false);
    expect(await counts(queue)).toMatchObject({ active: CONCURRENCY, waiting: JOBS - CONCURRENCY, completed: 0 });
    openGate(words);
    expect(await closing).toEqual({ requeued: 0, destroyed: false });
    expect(await counts(queue)).toEqual({ active: 0, waiting: JOBS - CONCURRENCY, completed: CONCURRENCY, failed: 0, delayed: 0 });
    expect(worker.closing).toBeDefined();
    await expect(pool.run({ op: 'inc', x: 1 })).rejects.toMatchObject({ name: 'PoolClosedError' });
    expect(Atomics.load(words, ABORTED)).toBe(0);
    await drainElsewhere(queue, runs);
    // Each job ran exactly once, across both "machines".
    expect(Array.from(runs.subarray(0, JOBS))).toEqual(Array(JOBS).fill(1));
  });

  it('at the deadline hands the running jobs back to the queue and cancels them; grace lets their handlers return', async () => {
    const { queue, pool, words, runs, worker } = await busyWorker('gate');
    const result = await closeWorker(worker, pool, { timeout: 50, grace: 10_000 });
    expect(result).toEqual({ requeued: CONCURRENCY, destroyed: false });
    // Every handler saw context.signal abort, and returned within the grace (the pool closed, not destroyed).
    expect(Atomics.load(words, ABORTED)).toBe(CONCURRENCY);
    expect(await counts(queue)).toEqual({ active: 0, waiting: JOBS, completed: 0, failed: 0, delayed: 0 });
    // Handed back as they were: no attempt counted, no failure recorded.
    const waiting = await queue.getWaiting(0, JOBS);
    expect(waiting.every((job) => job.attemptsMade === 0 && !job.failedReason)).toBe(true);
    await drainElsewhere(queue, runs);
  });

  it('a handler that ignores its signal is terminated after the grace; its job is back in the queue all the same', async () => {
    const { queue, pool, words, runs, worker } = await busyWorker('block');
    const result = await closeWorker(worker, pool, { timeout: 50, grace: 50 });
    expect(result).toEqual({ requeued: CONCURRENCY, destroyed: true });
    expect(pool.stats().threads).toBe(0);
    expect(await counts(queue)).toEqual({ active: 0, waiting: JOBS, completed: 0, failed: 0, delayed: 0 });
    openGate(words); // nobody is left to see it: the threads are gone
    await drainElsewhere(queue, runs);
  });

  it('cancellation: false — at the deadline the pool is destroyed at once, and the running jobs go back all the same', async () => {
    const { queue, pool, words, runs, worker } = await busyWorker('gate', false);
    const result = await closeWorker(worker, pool, { timeout: 50, grace: 10_000 });
    // No signal to cancel by, so no grace: the handlers never saw an abort.
    expect(result).toEqual({ requeued: CONCURRENCY, destroyed: true });
    expect(Atomics.load(words, ABORTED)).toBe(0);
    expect(pool.stats().threads).toBe(0);
    expect(await counts(queue)).toEqual({ active: 0, waiting: JOBS, completed: 0, failed: 0, delayed: 0 });
    expect(h.errors).toEqual([]);
    await drainElsewhere(queue, runs);
  });

  it('races the deadline against jobs finishing (many rounds, with and without signals): each job completes or goes back, and `requeued` counts the latter', async () => {
    const total = 150;
    for (const [round, timeout] of [0, 0, 1, 1, 2, 3, 5, 8].entries()) {
      const queue = h.queue();
      const { pool } = h.pool();
      // Every other round without signals: the deadline then destroys the pool.
      const cancellation = round % 2 === 0;
      const worker = h.track(createWorker(queue.name, pool, { connection: h.redis.connection, concurrency: 16, cancellation }));
      await queue.addBulk(Array.from({ length: total }, (_, x) => ({ name: 'ops', data: { op: 'inc', x } })));
      await until(async () => (await counts(queue)).completed >= 20, 'jobs to flow');
      const { requeued } = await closeWorker(worker, pool, { timeout });
      const after = await counts(queue);
      expect(after, `timeout ${timeout}, cancellation ${cancellation}`).toMatchObject({ active: 0, failed: 0, delayed: 0 });
      expect(after.completed + after.waiting).toBe(total);
      // Back in wait having been started here = handed back; never fetched = attemptsStarted 0.
      const waiting = await queue.getWaiting(0, total);
      expect(waiting.filter((job) => job.attemptsStarted > 0).length, `timeout ${timeout}, cancellation ${cancellation}`).toBe(requeued);
      expect(requeued).toBeLessThanOrEqual(16);
      for (const job of await queue.getCompleted(0, total)) expect(job.returnvalue.y).toBe(job.data.x + 1);
    }
  });

  it('a pool closed under a running worker: its jobs go back to the queue and the worker closes itself', async () => {
    const queue = h.queue();
    const { pool } = h.pool();
    const worker = h.track(createWorker(queue.name, pool, { connection: h.redis.connection, concurrency: 4 }));
    await worker.waitUntilReady();
    await pool.close();
    const closed = new Promise<void>((resolve) => worker.once('closed', () => resolve()));
    await queue.addBulk(Array.from({ length: 5 }, (_, x) => ({ name: 'ops', data: { op: 'inc', x } })));
    await closed;
    expect(h.errors.length).toBeGreaterThan(0);
    expect(h.errors.every((error) => error.name === 'PoolClosedError')).toBe(true);
    expect(await counts(queue)).toEqual({ active: 0, waiting: 5, completed: 0, failed: 0, delayed: 0 });
    const first = (await queue.getWaiting(0, 0))[0]!;
    expect((await Job.fromId(queue, first.id!))!.attemptsMade).toBe(0);
  });

  it('rejects a negative or non-numeric deadline before closing anything', async () => {
    const queue = h.queue();
    const { pool } = h.pool();
    const worker = h.track(createWorker(queue.name, pool, { connection: h.redis.connection, autorun: false }));
    await expect(closeWorker(worker, pool, { timeout: -1 })).rejects.toThrow(RangeError);
    await expect(closeWorker(worker, pool, { grace: Number.NaN })).rejects.toThrow(RangeError);
    expect(worker.closing).toBeUndefined();
  });
});
