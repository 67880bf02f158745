// Shared by the BullMQ tests: one redis-server per file, pools on the jobs.mjs fixture, clean-up.
import { fileURLToPath } from 'node:url';
import { Queue, type Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { startRedis, type RedisServer } from './redis.js';

/** Words of workerData.words (fixtures/jobs.mjs). */
export const STARTED = 0;
export const GATE = 1;
export const ABORTED = 2;
export const ATTEMPTS = 3;

export const JOBS = fileURLToPath(new URL('./fixtures/jobs.mjs', import.meta.url));

export interface Harness {
  /** Valid inside tests (set in beforeAll). */
  redis: RedisServer;
  /** A queue with a name no other test uses. */
  queue(): Queue;
  /** A pool on jobs.mjs; words/runs are shared with its threads. */
  pool(options?: { threads?: number; concurrency?: number; tag?: string; words?: Int32Array; runs?: Int32Array }): {
    pool: ThreadPool;
    words: Int32Array;
    runs: Int32Array;
  };
  /** Registers a worker for closing after the test (if the test did not); its 'error' events go to `errors`. */
  track<W extends Worker>(worker: W): W;
  /** What tracked workers emitted as 'error' during the test. */
  errors: Error[];
}

let queues = 0;

/** Call at the top of a describe block: starts redis-server for the file, cleans up after each test. */
export function harness(): Harness {
  const open: { queues: Queue[]; pools: ThreadPool[]; workers: Worker[] } = { queues: [], pools: [], workers: [] };
  const h: Harness = {
    redis: undefined as unknown as RedisServer,
    queue() {
      const queue = new Queue(`q${process.pid}-${++queues}`, { connection: h.redis.connection });
      open.queues.push(queue);
      return queue;
    },
    pool(options = {}) {
      const words = options.words ?? new Int32Array(new SharedArrayBuffer(64));
      const runs = options.runs ?? new Int32Array(new SharedArrayBuffer(4 * 8192));
      const pool = new ThreadPool({
        filename: JOBS,
        threads: options.threads ?? 2,
        concurrency: options.concurrency ?? options.threads ?? 2,
        workerData: { words, runs, tag: options.tag ?? 'pool' },
      });
      open.pools.push(pool);
      return { pool, words, runs };
    },
    track(worker) {
      open.workers.push(worker);
      worker.on('error', (error) => h.errors.push(error));
      return worker;
    },
    errors: [],
  };
  beforeAll(async () => {
    h.redis = await startRedis();
  });
  afterEach(async () => {
    // Pools first: a job still running is handed back to its queue and its worker closes itself;
    // then force, so that a failed test cannot leave the next one waiting on its jobs.
    await Promise.all(open.pools.splice(0).map((p) => p.destroy()));
    await Promise.all(open.workers.splice(0).map((w) => w.close(true)));
    h.errors.length = 0;
    await Promise.all(open.queues.splice(0).map((q) => q.close()));
  });
  afterAll(async () => {
    await h.redis?.stop();
  });
  return h;
}

/** Polls an async condition (state the code under test publishes in Redis or shared memory). */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function openGate(words: Int32Array): void {
  Atomics.store(words, GATE, 1);
  Atomics.notify(words, GATE);
}

/** The queue's job counts by state, the states the tests care about. */
export async function counts(queue: Queue): Promise<{ waiting: number; active: number; completed: number; failed: number; delayed: number }> {
  const c = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
  return { waiting: c.waiting ?? 0, active: c.active ?? 0, completed: c.completed ?? 0, failed: c.failed ?? 0, delayed: c.delayed ?? 0 };
}
