// Two "machines" (a worker and a pool each) on one queue: they share the jobs, and none runs twice.
import { describe, expect, it } from 'vitest';
import { closeWorker, createWorker } from '../../dist/bullmq.js';
import { counts, harness, until } from './helpers.js';
import { redisBinary, SKIP_REASON } from './redis.js';

const JOBS = 1000;

describe.skipIf(redisBinary === undefined)(`iocp-pool/bullmq: two workers, two pools, one queue${redisBinary ? '' : ` (${SKIP_REASON})`}`, () => {
  const h = harness();

  it(`share ${JOBS} jobs between them; every job runs exactly once`, async () => {
    const queue = h.queue();
    // One run counter per job id, shared by both pools' threads.
    const runs = new Int32Array(new SharedArrayBuffer(4 * JOBS));
    const a = h.pool({ tag: 'A', runs });
    const b = h.pool({ tag: 'B', runs });
    const options = { connection: h.redis.connection, concurrency: 16 };
    h.track(createWorker(queue.name, a.pool, options));
    h.track(createWorker(queue.name, b.pool, options));
    await queue.addBulk(Array.from({ length: JOBS }, (_, id) => ({ name: 'ops', data: { op: 'inc', id, x: id } })));
    await until(async () => (await counts(queue)).completed === JOBS, `${JOBS} jobs to complete`);
    expect(await counts(queue)).toMatchObject({ active: 0, waiting: 0, failed: 0 });
    const jobs = await queue.getCompleted(0, JOBS);
    const byTag = { A: 0, B: 0 } as Record<string, number>;
    for (const job of jobs) {
      expect(job.returnvalue.y).toBe(job.data.x + 1);
      byTag[job.returnvalue.tag]!++;
    }
    expect(byTag.A! + byTag.B!).toBe(JOBS);
    expect(byTag.A, 'jobs run by pool A').toBeGreaterThan(0);
    expect(byTag.B, 'jobs run by pool B').toBeGreaterThan(0);
    expect(Array.from(runs).every((n) => n === 1)).toBe(true);
    expect(h.errors).toEqual([]);
  });

  it('one of them shuts down mid-stream: the other finishes the queue; still every job exactly once', async () => {
    const queue = h.queue();
    const runs = new Int32Array(new SharedArrayBuffer(4 * JOBS));
    const a = h.pool({ tag: 'A', runs });
    const b = h.pool({ tag: 'B', runs });
    const options = { connection: h.redis.connection, concurrency: 16 };
    const workerA = h.track(createWorker(queue.name, a.pool, options));
    h.track(createWorker(queue.name, b.pool, options));
    await queue.addBulk(Array.from({ length: JOBS }, (_, id) => ({ name: 'ops', data: { op: 'inc', id, x: id } })));
    await until(async () => (await counts(queue)).completed >= JOBS / 10, 'a tenth of the jobs to complete');
    expect(await closeWorker(workerA, a.pool, { timeout: 10_000 })).toEqual({ requeued: 0, destroyed: false });
    const doneByA = (await queue.getCompleted(0, JOBS)).filter((job) => job.returnvalue.tag === 'A').length;
    await until(async () => (await counts(queue)).completed === JOBS, `${JOBS} jobs to complete`);
    expect(await counts(queue)).toMatchObject({ active: 0, waiting: 0, failed: 0 });
    const jobs = await queue.getCompleted(0, JOBS);
    // A ran nothing after it closed.
    expect(jobs.filter((job) => job.returnvalue.tag === 'A').length).toBe(doneByA);
    expect(Array.from(runs).every((n) => n === 1)).toBe(true);
    expect(h.errors).toEqual([]);
  });
});
