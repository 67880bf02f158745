/**
 * iocp-pool/bullmq: BullMQ jobs run on a ThreadPool — one pool per machine,
 * one Redis queue for the fleet. BullMQ (an optional peer dependency) keeps
 * persistence, retries, rate limits and stalled-job recovery; the pool runs
 * the jobs on its threads under its concurrency cap.
 *
 *   const pool = new ThreadPool({ filename: new URL('./jobs.mjs', import.meta.url) });
 *   const worker = createWorker('jobs', pool, { connection, concurrency: 64 });
 *   process.once('SIGTERM', () => closeWorker(worker, pool, { timeout: 10_000 }));
 *
 * Guide: docs/scaling.md.
 *
 * @module iocp-pool/bullmq
 */
export { createWorker } from './worker.js';
export { closeWorker } from './close.js';
export type { CloseWorkerOptions, CloseWorkerResult, CreateWorkerOptions, JobData, JobName, JobPool, JobResult, JobRunOptions } from './types.js';
