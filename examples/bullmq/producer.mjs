// Adds jobs to the "fib" queue and waits until the workers have done them all.
//
//   node examples/bullmq/producer.mjs [jobs = 1000] [n = 25]
import { Queue, QueueEvents } from 'bullmq';

const connection = { host: process.env.REDIS_HOST ?? '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) };
const count = Number(process.argv[2] ?? 1000);
const n = Number(process.argv[3] ?? 25);

const queue = new Queue('fib', { connection });
const events = new QueueEvents('fib', { connection });
await events.waitUntilReady();

// Counted by job id: only this run's jobs, whatever else the queue holds. A job may
// finish before addBulk() returns its id, so finished ids are kept until matched.
const ours = new Set();
const finished = new Map(); // job id → completed (true) or failed (false)
let adding = true;
let allFinished;
const allDone = new Promise((resolve) => (allFinished = resolve));
const check = () => {
  if (adding || finished.size < ours.size) return;
  for (const id of ours) if (!finished.has(id)) return;
  allFinished();
};
events.on('completed', ({ jobId }) => {
  finished.set(jobId, true);
  check();
});
events.on('failed', ({ jobId }) => {
  finished.set(jobId, false);
  check();
});

const started = performance.now();
for (let i = 0; i < count; i += 1000) {
  const batch = Array.from({ length: Math.min(1000, count - i) }, () => ({
    name: 'fib',
    data: n,
    opts: { removeOnComplete: 1000, removeOnFail: 1000 },
  }));
  for (const job of await queue.addBulk(batch)) ours.add(job.id);
}
adding = false;
console.log(`added ${count} jobs: fib(${n})`);
check();
await allDone;
const seconds = (performance.now() - started) / 1000;
const failed = [...ours].filter((id) => finished.get(id) === false).length;
console.log(`done: ${count - failed} completed, ${failed} failed in ${seconds.toFixed(2)} s (${Math.round(count / seconds)} jobs/s)`);
await events.close();
await queue.close();
