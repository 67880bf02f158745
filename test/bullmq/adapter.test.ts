// createWorker(): BullMQ jobs run on a ThreadPool, against a real redis-server.
import { isMainThread } from 'node:worker_threads';
import { Job, Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createWorker } from '../../dist/bullmq.js';
import { ABORTED, ATTEMPTS, counts, harness, openGate, STARTED, until } from './helpers.js';
import { redisBinary, SKIP_REASON } from './redis.js';

describe.skipIf(redisBinary === undefined)(`iocp-pool/bullmq: jobs on a pool${redisBinary ? '' : ` (${SKIP_REASON})`}`, () => {
  const h = harness();

  it('runs job.data on a pool thread and stores what the handler returned as job.returnvalue', async () => {
    const queue = h.queue();
    const { pool } = h.pool({ tag: 'A' });
    const worker = h.track(createWorker(queue.name, pool, { connection: h.redis.connection, concurrency: 8 }));
    // The application's own BullMQ Worker class (one bullmq module instance, not a copy).
    expect(worker).toBeInstanceOf(Worker);
    expect(worker.concurrency).toBe(8);
    const added = await queue.addBulk(Array.from({ length: 50 }, (_, i) => ({ name: 'ops', data: { op: 'inc', x: i } })));
    await until(async () => (await counts(queue)).completed === 50, '50 jobs completed');
    for (const [i, { id }] of added.entries()) {
      const job = (await Job.fromId(queue, id!))!;
      expect(job.returnvalue.y, `job ${i}`).toBe(i + 1);
      expect(job.returnvalue.tag).toBe('A');
      // A pool thread ran it, not the main thread (threadId 0 there).
      expect(job.returnvalue.thread).toBeGreaterThan(0);
    }
    expect(isMainThread).toBe(true);
    expect(await counts(queue)).toMatchObject({ waiting: 0, active: 0, failed: 0 });
  });

  it('defaults BullMQ concurrency to the pool threads (BullMQ alone would take 1 job at a time)', () => {
    const queue = h.queue();
    const { pool } = h.pool({ threads: 3 });
    const worker = h.track(createWorker(queue.name, pool, { connection: h.redis.connection, autorun: false }));
    expect(worker.concurrency).toBe(3);
  });

  it("a handler's error fails the job with its message; BullMQ retries it while attempts remain", async () => {
    const queue = h.queue();
    const { pool, words } = h.pool();
    h.track(createWorker(queue.name, pool, { connection: h.redis.connection }));
    const failing = await queue.add('ops', { op: 'fail', message: 'no such invoice: 42' }, { attempts: 2 });
    await until(async () => (await counts(queue)).failed === 1, 'the failing job to fail');
    const failed = (await Job.fromId(queue, failing.id!))!;
    expect(failed.failedReason).toBe('no such invoice: 42');
    expect(failed.attemptsMade).toBe(2);
    expect(failed.stacktrace?.at(-1)).toMatch(/no such invoice: 42/);

    // Fails twice, then succeeds on BullMQ's third attempt.
    const flaky = await queue.add('ops', { op: 'flaky', failures: 2 }, { attempts: 3 });
    await until(async () => (await counts(queue)).completed === 1, 'the flaky job to complete');
    const done = (await Job.fromId(queue, flaky.id!))!;
    expect(done.returnvalue).toBe('ok after 3 attempts');
    expect(done.attemptsMade).toBe(3);
    expect(Atomics.load(words, ATTEMPTS)).toBe(3);
  });

  it('an error named UnrecoverableError is not retried (BullMQ reads the name, and the pool keeps it)', async () => {
    const queue = h.queue();
    const { pool, words } = h.pool();
    h.track(createWorker(queue.name, pool, { connection: h.redis.connection }));
    const job = await queue.add('ops', { op: 'unrecoverable' }, { attempts: 5 });
    await until(async () => (await counts(queue)).failed === 1, 'the job to fail');
    expect((await Job.fromId(queue, job.id!))!.failedReason).toBe('this job cannot succeed');
    expect(Atomics.load(words, ATTEMPTS)).toBe(1);
  });

  it("worker.cancelJob() reaches the running handler's context.signal", async () => {
    const queue = h.queue();
    const { pool, words } = h.pool();
    const worker = h.track(createWorker(queue.name, pool, { connection: h.redis.connection }));
    const job = await queue.add('ops', { op: 'gate', id: 1 });
    await until(() => Atomics.load(words, STARTED) === 1, 'the job to start on a pool thread');
    expect(worker.cancelJob(job.id!, 'user cancelled')).toBe(true);
    await until(async () => (await counts(queue)).failed === 1, 'the cancelled job to fail');
    // The handler saw the abort and chose to throw: BullMQ fails the job with that error.
    expect((await Job.fromId(queue, job.id!))!.failedReason).toMatch(/^stopped: /);
    expect(Atomics.load(words, ABORTED)).toBe(1);
  });

  it('worker.cancelJob() on a job still queued in the pool: it never runs, the job fails with AbortError', async () => {
    const queue = h.queue();
    // One thread, blocked by a sync handler: the second job waits in the pool's queue.
    const { pool, words, runs } = h.pool({ threads: 1 });
    const worker = h.track(createWorker(queue.name, pool, { connection: h.redis.connection, concurrency: 2 }));
    const blocker = await queue.add('ops', { op: 'block', id: 1 });
    await until(() => Atomics.load(words, STARTED) === 1, 'the first job to block the thread');
    const queued = await queue.add('ops', { op: 'gate', id: 2 });
    // Active in Redis is not yet handed to the processor: wait until the pool holds the task.
    await until(() => pool.stats().queued === 1, 'the second job to wait in the pool');
    expect(worker.cancelJob(queued.id!, 'not needed')).toBe(true);
    await until(async () => (await counts(queue)).failed === 1, 'the cancelled job to fail');
    const failed = (await Job.fromId(queue, queued.id!))!;
    expect(failed.failedReason).toBe('The task was aborted before it started');
    openGate(words);
    await until(async () => (await counts(queue)).completed === 1, 'the first job to complete');
    expect((await Job.fromId(queue, blocker.id!))!.returnvalue).toEqual({ done: 1 });
    expect(Atomics.load(runs, 2)).toBe(0);
    expect(Atomics.load(words, STARTED)).toBe(1);
  });

  it('cancellation: false — BullMQ makes no signal, the handler gets none, cancelJob() finds nothing to cancel', async () => {
    const queue = h.queue();
    const { pool, words } = h.pool();
    const plain = h.track(createWorker(queue.name, pool, { connection: h.redis.connection, cancellation: false }));
    const job = await queue.add('ops', { op: 'has-signal' });
    await until(async () => (await counts(queue)).completed === 1, 'the job to complete');
    expect((await Job.fromId(queue, job.id!))!.returnvalue).toEqual({ signal: false });
    const gated = await queue.add('ops', { op: 'gate', id: 1 });
    await until(() => Atomics.load(words, STARTED) === 1, 'the gated job to start');
    expect(plain.cancelJob(gated.id!)).toBe(false);
    openGate(words);
    await until(async () => (await counts(queue)).completed === 2, 'the gated job to complete');

    // The default: the handler has a signal.
    const other = h.queue();
    h.track(createWorker(other.name, pool, { connection: h.redis.connection }));
    const signalled = await other.add('ops', { op: 'has-signal' });
    await until(async () => (await counts(other)).completed === 1, 'the job to complete');
    expect((await Job.fromId(other, signalled.id!))!.returnvalue).toEqual({ signal: true });
  });

  it('handlerName(job) → undefined runs the default export', async () => {
    const queue = h.queue();
    const { pool } = h.pool();
    h.track(createWorker(queue.name, pool, { connection: h.redis.connection, handlerName: () => undefined }));
    const job = await queue.add('double', { op: 'inc', x: 1 });
    await until(async () => (await counts(queue)).completed === 1, 'the job to complete');
    expect((await Job.fromId(queue, job.id!))!.returnvalue).toMatchObject({ y: 2 });
  });

  it('job.name selects the named export of the worker module; handlerName(job) maps otherwise', async () => {
    const queue = h.queue();
    const { pool } = h.pool();
    h.track(createWorker(queue.name, pool, { connection: h.redis.connection }));
    const byName = await queue.add('double', 21);
    await until(async () => (await counts(queue)).completed + (await counts(queue)).failed === 1, 'the job to finish');
    expect((await Job.fromId(queue, byName.id!))!.returnvalue).toBe(42);

    const mapped = h.queue();
    h.track(createWorker(mapped.name, pool, { connection: h.redis.connection, handlerName: (job) => job.data.handler }));
    const job = await mapped.add('anything', { handler: 'report', steps: 0 });
    await until(async () => (await counts(mapped)).completed + (await counts(mapped)).failed === 1, 'the mapped job to finish');
    expect((await Job.fromId(mapped, job.id!))!.returnvalue).toBe('reported');
  });

  it('context.progress(v) becomes job.updateProgress(v): every value, in order, stored before the job completes', async () => {
    const queue = h.queue();
    const { pool } = h.pool();
    const worker = h.track(createWorker(queue.name, pool, { connection: h.redis.connection }));
    const seen: unknown[] = [];
    worker.on('progress', (_job, value) => seen.push(value));
    worker.on('completed', () => seen.push('completed'));
    const job = await queue.add('report', { steps: 20 });
    await until(async () => (await counts(queue)).completed + (await counts(queue)).failed === 1, 'the job to finish');
    const stored = (await Job.fromId(queue, job.id!))!;
    expect(stored.returnvalue).toBe('reported');
    expect(stored.progress).toBe(20);
    expect(seen).toEqual([...Array.from({ length: 20 }, (_, i) => i + 1), 'completed']);
  });
});
