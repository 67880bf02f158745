/**
 * stats(): the pool's counters, timings and utilization, gathered from the parts that keep them —
 * the task port (running, waiting, queued packets), the task table (run() outcomes, backlog), the
 * result drain (sampled run and wait times, utilization), the heap — and the arena's A_REQUESTS
 * word (queueRequest handlers run). Apart from thread-pool.ts because it only reads: nothing here
 * changes what the pool does.
 */
import { A_REQUESTS } from '../layout.js';
import type { ThreadPoolStats } from '../options.js';
import type { PoolParts } from './parts.js';

/** The pool's stats; `requestFailed`: queueRequest handlers that failed (A_REQUESTS counts them among the handled). */
export function poolStats(parts: PoolParts, requestFailed: number): ThreadPoolStats {
  const { taskPort, threads, tasks, results, heap, i32 } = parts;
  const port = taskPort.stats();
  return {
    threads: threads.size,
    running: port.running,
    waiting: port.waiting,
    queued: port.queued + tasks.backlogged,
    completed: tasks.completed + ((Atomics.load(i32, A_REQUESTS) >>> 0) - requestFailed),
    failed: tasks.failed + requestFailed,
    runTime: results.runTime.percentiles(),
    waitTime: results.waitTime.percentiles(),
    utilization: results.utilization.take(threads.size),
    heap: heap.stats(),
  };
}
