/**
 * Scenario (5): CPU offload. 400 × fib(27), all submitted at once, on a pool
 * of 1 thread and then (in the same process, a fresh pool) of 2 threads.
 * speedup = time(1 thread) / time(2 threads). Each pool is warmed with a few
 * fib calls per thread first, so JIT compilation is not in the timing.
 */
import { ADAPTERS } from '../adapters/index.mjs';
import { Worker } from 'node:worker_threads';
import { poolSubjects } from '../lib/subjects.mjs';

const BARE_WORKER = new URL('../workers/bare-fib.mjs', import.meta.url);

/**
 * The machine's ceiling: the same tasks split evenly over bare worker threads
 * that compute them with no pool and no message during the timing. On a VM
 * whose two vCPUs slow each other down, no pool's speedup can beat this.
 */
async function bareTimed(threads, tasks, n) {
  const workers = Array.from({ length: threads }, () => new Worker(BARE_WORKER, { workerData: { n, count: tasks / threads } }));
  const next = (w) =>
    new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  await Promise.all(workers.map(next)); // warmed
  const t0 = performance.now();
  const done = workers.map(next);
  for (const w of workers) w.postMessage('go');
  const results = await Promise.all(done);
  const ms = performance.now() - t0;
  await Promise.all(workers.map((w) => w.terminate()));
  if (results.some((r) => r !== FIB_27)) throw new Error('fib(27) returned a wrong result');
  return ms;
}

const FIB_27 = 196418;

async function timed(subject, threads, tasks, n) {
  const pool = await ADAPTERS[subject].create({ threads, job: 'fib' });
  await Promise.all(Array.from({ length: 4 * threads }, () => pool.run(n)));
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: tasks }, () => pool.run(n)));
  const ms = performance.now() - t0;
  await pool.destroy();
  if (results.some((r) => r !== FIB_27)) throw new Error('fib(27) returned a wrong result');
  return ms;
}

export default {
  id: 'offload',
  cases: ({ quick }) => [
    {
      id: 'fib-offload',
      title: `(5) CPU offload: ${quick ? 40 : 400} × fib(27), 1 vs 2 threads`,
      note: 'All tasks submitted at once; speedup = time on 1 thread / time on 2 threads (fresh pool each, warmed). "bare threads" splits the same tasks over plain worker threads with no pool: what this machine allows.',
      subjects: [...poolSubjects(), { id: 'bare', label: 'bare threads, no pool (the ceiling)', kind: 'primitive' }],
      compareTo: 'peer',
      metrics: [
        { key: 'speedup', label: 'speedup 1→2 threads', unit: '×', better: 'higher' },
        { key: 't2', label: 'time on 2 threads', unit: 'ms', better: 'lower' },
        { key: 't1', label: 'time on 1 thread', unit: 'ms', better: 'lower' },
      ],
      params: { tasks: quick ? 40 : 400, n: 27 },
      targets: [{ metric: 'speedup', label: 'CPU offload speedup with 2 threads ≥ 1.9', atLeast: 1.9 }],
    },
  ],

  async measure(_caseId, subject, { tasks, n }) {
    if (subject === 'bare') {
      const t1 = await bareTimed(1, tasks, n);
      const t2 = await bareTimed(2, tasks, n);
      return { speedup: t1 / t2, t1, t2 };
    }
    const t1 = await timed(subject, 1, tasks, n);
    const t2 = await timed(subject, 2, tasks, n);
    return { speedup: t1 / t2, t1, t2 };
  },
};
