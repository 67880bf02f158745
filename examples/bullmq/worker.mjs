// One machine's worker: a ThreadPool, and a BullMQ worker feeding it jobs from Redis.
// Start as many of these as you like, on as many machines: they share the queue.
//
//   node examples/bullmq/worker.mjs            (REDIS_HOST / REDIS_PORT, default 127.0.0.1:6379)
//
// Ctrl-C (SIGINT) or SIGTERM: graceful shutdown — the jobs in flight get 10 s to finish,
// then go back to the queue for another worker; nothing is failed by the shutdown.
import { ThreadPool } from 'iocp-pool';
import { closeWorker, createWorker } from 'iocp-pool/bullmq';

const connection = {
  host: process.env.REDIS_HOST ?? '127.0.0.1',
  port: Number(process.env.REDIS_PORT ?? 6379),
  maxRetriesPerRequest: null, // what BullMQ wants for a worker's connection
};

// One pool per process: 2 × cores threads, at most `cores` running at once.
const pool = new ThreadPool({ filename: new URL('./jobs.mjs', import.meta.url) });

// BullMQ's concurrency: how many jobs this process holds at once. More than the
// pool's threads, so that a thread finishing a job finds the next one already
// here instead of waiting for a round trip to Redis.
const worker = createWorker('fib', pool, { connection, concurrency: 4 * pool.threads });

let completed = 0;
worker.on('completed', (job, result) => {
  completed++;
  if (completed % 100 === 0) console.log(`${completed} jobs done (last: fib(${job.data}) = ${result})`);
});
worker.on('failed', (job, error) => console.error(`job ${job?.id} failed: ${error.message}`));
worker.on('error', (error) => console.error(`worker error: ${error.message}`));
await worker.waitUntilReady();
console.log(`worker ready: queue "fib" on ${connection.host}:${connection.port}, ${pool.threads} threads, concurrency ${worker.concurrency}`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    console.log(`${signal}: closing (the jobs in flight get 10 s)`);
    const { requeued, destroyed } = await closeWorker(worker, pool, { timeout: 10_000 });
    console.log(`closed after ${completed} jobs; ${requeued} job(s) handed back to the queue${destroyed ? '; pool threads terminated' : ''}`);
  });
}
