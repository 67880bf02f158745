import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool, WorkerDiedError } from '../../dist/index.js';
import { fixture, shared, waitFor } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

describe('ThreadPool: threads that die', () => {
  // concurrency 1 and one thread: if the dead thread's running slot were not given back to the
  // port, the replacement could never take a packet and the follow-up run() would hang.
  it.each([1, 2, 3, 4, 5])('process.exit in a handler rejects that task only, and the thread is replaced (round %i)', async () => {
    const { sab } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1, concurrency: 1, workerData: { sab } });
    pools.push(pool);
    const before = await pool.run({ op: 'threadId' });
    const error = (await pool.run({ op: 'exit', code: 3 }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(WorkerDiedError);
    expect(error.message).toMatch(/process\.exit\(3\)/);
    expect(await pool.run({ op: 'echo', value: 'after' })).toBe('after');
    expect(await pool.run({ op: 'threadId' })).not.toBe(before);
    expect(pool.stats().threads).toBe(1);
    await pool.close();
  });

  it('a thread that dies holding the next packet (its event loop turning between slices) hands it on: every task settles (10 rounds)', async () => {
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2 });
    pools.push(pool);
    const reported: Error[] = [];
    pool.on('error', (error: Error) => void reported.push(error));
    for (let round = 0; round < 10; round++) {
      const runs = Array.from({ length: 300 }, (_, i) =>
        // One killer in 100: a timer that throws after its task returned.
        pool.run({ op: i % 100 === 50 ? 'throw-later' : 'echo', value: i }).then(
          (value) => value,
          (error: unknown) => error,
        ),
      );
      // A deadline for a hang (300 tiny tasks take milliseconds), not a synchronisation.
      let deadline: ReturnType<typeof setTimeout> | undefined;
      const hang = new Promise<'hang'>((resolve) => {
        deadline = setTimeout(() => resolve('hang'), 20_000);
      });
      const outcomes = await Promise.race([Promise.all(runs), hang]);
      clearTimeout(deadline);
      expect(outcomes, `round ${round}: some run() never settled`).not.toBe('hang');
      // Each task settles with its value, or - running on the thread when it died - WorkerDiedError.
      for (const [i, outcome] of (outcomes as unknown[]).entries()) {
        if (outcome !== i) expect(outcome, `task ${i}`).toBeInstanceOf(WorkerDiedError);
      }
    }
    expect(reported.every((e) => e instanceof WorkerDiedError)).toBe(true);
    expect(await pool.run({ op: 'echo', value: 'after' })).toBe('after');
    await pool.close();
  }, 60_000);

  it('an uncaught error in a thread rejects its in-flight task with that error as the cause', async () => {
    const { sab } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, concurrency: 1, workerData: { sab } });
    pools.push(pool);
    const seen: unknown[] = [];
    pool.on('error', (e) => seen.push(e));
    const error = (await pool.run({ op: 'uncaught', message: 'escaped the handler' }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(WorkerDiedError);
    expect(error.message).toMatch(/uncaught error \(escaped the handler\)/);
    expect((error.cause as Error).message).toBe('escaped the handler');
    expect(seen).toHaveLength(0); // the run() carried it
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => pool.run({ op: 'echo', value: i })));
    expect(results).toHaveLength(50);
    await waitFor(() => pool.stats().threads === 2, 'the replacement thread');
    await pool.close();
  });

  it.each([
    [-6, /uncaught error \(uncaught in a request\)/],
    [-7, /process\.exit\(6\)/],
  ])("a thread that dies in a queueRequest(%i) handler is reported on 'error' and replaced", async (wParam, message) => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1, concurrency: 1, workerData: { sab } });
    pools.push(pool);
    const seen: Error[] = [];
    pool.on('error', (e: Error) => seen.push(e));
    pool.queueRequest(wParam);
    await waitFor(() => seen.length === 1, "the 'error' event");
    expect(seen[0]).toBeInstanceOf(WorkerDiedError);
    expect(seen[0]!.message).toMatch(message);
    pool.queueRequest(1);
    await waitFor(() => Atomics.load(words, 2) === 1, 'a request on the replacement thread');
    await pool.close();
  });

  it('a thread over its resourceLimits rejects its task with an out-of-memory error', async () => {
    const { sab } = shared();
    const pool = new ThreadPool({
      filename: fixture('ops.mjs'),
      threads: 1,
      workerData: { sab },
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
    pools.push(pool);
    const error = (await pool.run({ op: 'oom' }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(WorkerDiedError);
    expect(error.message).toMatch(/out of memory/i);
    expect((error.cause as { code: string }).code).toBe('ERR_WORKER_OUT_OF_MEMORY');
    expect(await pool.run({ op: 'echo', value: 'recovered' })).toBe('recovered');
    await pool.close();
  });

  it('tasks on other threads are unaffected when one thread dies amid a stream', async () => {
    const { sab } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, workerData: { sab } });
    pools.push(pool);
    const tasks = Array.from({ length: 400 }, (_, i) => (i === 200 ? pool.run({ op: 'exit', code: 9 }) : pool.run({ op: 'echo', value: i })));
    const outcomes = await Promise.allSettled(tasks);
    outcomes.forEach((outcome, i) => {
      if (i === 200) expect(outcome).toMatchObject({ status: 'rejected', reason: { name: 'WorkerDiedError' } });
      else expect(outcome).toEqual({ status: 'fulfilled', value: i });
    });
    await pool.close();
  });
});
