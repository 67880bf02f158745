// Type-level tests of iocp-pool/bullmq: checked by tsc --noEmit (npm test runs it). Nothing here
// executes. createWorker takes any ThreadPool — typed from its module, typed by hand, untyped —
// and returns BullMQ's own Worker type; closeWorker takes any such worker.
import type { Job, Worker } from 'bullmq';
import { expectTypeOf } from 'vitest';
import type { closeWorker, createWorker } from '../../dist/bullmq.js';
import type { ThreadPool } from '../../dist/index.js';

declare const create: typeof createWorker;
declare const close: typeof closeWorker;
declare const typed: ThreadPool<typeof import('../pool/fixtures/typed.js')>;
declare const manual: ThreadPool<number, string>;
declare const untyped: ThreadPool;
const connection = { host: '127.0.0.1', port: 6379 };

type Size = { width: number; height: number };

export function anyPool(): void {
  expectTypeOf(create('q', untyped, { connection, concurrency: 8, cancellation: false })).toEqualTypeOf<Worker>();
  // @ts-expect-error: not a pool
  create('q', { run: 42 }, { connection });
}

export function jobsTypedFromThePool(): void {
  // typed.ts: describe(size) => string (default), area(size) => number, scale(size) => Promise<Size>.
  const worker = create('q', typed, {
    connection,
    handlerName: (job) => {
      expectTypeOf(job.data).toEqualTypeOf<Size>();
      expectTypeOf(job.name).toEqualTypeOf<'default' | 'area' | 'scale'>();
      return job.name === 'default' ? undefined : job.name;
    },
  });
  expectTypeOf(worker).toEqualTypeOf<Worker<Size, string | number | Size, 'default' | 'area' | 'scale'>>();
  worker.on('completed', (job, result) => {
    expectTypeOf(job.returnvalue).toEqualTypeOf<string | number | Size>();
    expectTypeOf(result).toEqualTypeOf<string | number | Size>();
  });
  // A pool declared by hand: its task and result, any name.
  expectTypeOf(create('q', manual, { connection })).toEqualTypeOf<Worker<number, string, string>>();
  // @ts-expect-error: handlerName's job carries the pool's task type
  create('q', manual, { connection, handlerName: (job: { data: string }) => job.data });
}

export function typedJobs(): void {
  const worker = create<{ width: number }, number, 'area'>('q', typed, {
    connection,
    handlerName: (job) => {
      expectTypeOf(job).toEqualTypeOf<Job<{ width: number }, number, 'area'>>();
      return job.name;
    },
  });
  expectTypeOf(worker).toEqualTypeOf<Worker<{ width: number }, number, 'area'>>();
  void close([worker, create('q', untyped, { connection })], typed, { timeout: 1000, grace: 100 });
  // @ts-expect-error: handlerName returns a name or undefined
  create('q', typed, { connection, handlerName: () => 42 });
}
