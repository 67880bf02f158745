/**
 * Scenario (11): a loaded machine. Before the pool is made, one busy-loop
 * child process per core (os.availableParallelism()) starts computing without
 * a pause (bench/lib/busy.mjs); they are killed once the numbers are taken.
 * The pool's threads and the main thread share the cores with them, as on a
 * server that runs other processes: a thread that spins while it waits takes
 * time from one that has work, and a wake-up waits for a core.
 *
 *   loaded-latency  one task at a time (run(x) → x + 1 awaited before the next)
 *   loaded-tiny     tiny tasks, 1,000 in flight, throughput
 */
import os from 'node:os';
import { ADAPTERS } from '../adapters/index.mjs';
import { startBusyLoops } from '../lib/busy.mjs';
import { incSource, keepFullFor, oneByOneFor } from '../lib/drive.mjs';
import { latencySummary } from '../lib/stats.mjs';
import { poolSubjects } from '../lib/subjects.mjs';

const THREADS = 2;

export default {
  id: 'loaded',
  cases: ({ quick }) => {
    const busy = os.availableParallelism();
    const pools = poolSubjects().filter((s) => !quick || s.id !== 'workerpool');
    const loaded = `${busy} busy-loop processes (one per core) spin from before the pool is made until the numbers are taken.`;
    const latency = { busy, n: quick ? 1_000 : 5_000, ms: quick ? 500 : 2000, warm: quick ? 300 : 2_000 };
    const tiny = {
      busy,
      tasks: quick ? 5_000 : 50_000,
      ms: quick ? 500 : 2000,
      warm: quick ? 2_000 : 20_000,
      warmMs: quick ? 200 : 1000,
      window: 1000,
    };
    return [
      {
        id: 'loaded-latency',
        title: `(11a) loaded machine (${busy} busy processes): one task at a time, run() round trip, 2 threads`,
        note: `${loaded} Sequential awaited run(x) → x + 1 calls: at least ${latency.n.toLocaleString('en-US')} and ${latency.ms / 1000} s, after ${latency.warm.toLocaleString('en-US')} warm-up calls; per-call time with process.hrtime. Each subject in a fresh process.`,
        subjects: pools,
        compareTo: 'peer',
        metrics: [
          { key: 'p50', label: 'p50', unit: 'µs', better: 'lower' },
          { key: 'p99', label: 'p99', unit: 'µs', better: 'lower' },
        ],
        params: { ...latency, mode: 'latency' },
        targets: [{ metric: 'p50', label: 'loaded machine: one-at-a-time p50 ≤ best peer / 1.5', ratioAtMost: 1 / 1.5 }],
      },
      {
        id: 'loaded-tiny',
        title: `(11b) loaded machine (${busy} busy processes): run() tiny tasks (x → x + 1), ${tiny.window.toLocaleString('en-US')} in flight, 2 threads`,
        note: `${loaded} The pipe kept full (${tiny.window.toLocaleString('en-US')} in flight, a new task as each settles) for at least ${tiny.tasks.toLocaleString('en-US')} tasks and ${tiny.ms / 1000} s, after a warm-up of ${tiny.warm.toLocaleString('en-US')} tasks and ${tiny.warmMs / 1000} s; every result checked. Each subject in a fresh process.`,
        subjects: pools,
        compareTo: 'peer',
        metrics: [{ key: 'rate', label: 'throughput', unit: 'tasks/s', better: 'higher' }],
        params: { ...tiny, mode: 'tiny' },
        targets: [{ metric: 'rate', label: 'loaded machine: tiny-task throughput ≥ 5 × best peer', ratioAtLeast: 5 }],
      },
    ];
  },

  async measure(_caseId, subject, params) {
    const load = await startBusyLoops(params.busy);
    try {
      const pool = await ADAPTERS[subject].create({ threads: THREADS, job: 'inc' });
      if (params.mode === 'latency') {
        await oneByOneFor(pool.run, { n: params.warm, ms: 0 });
        const s = latencySummary(await oneByOneFor(pool.run, params));
        return { p50: s.p50, p99: s.p99, info: { ...s, busy: params.busy } };
      }
      await keepFullFor(pool.run, incSource, { tasks: params.warm, ms: params.warmMs, window: params.window });
      const r = await keepFullFor(pool.run, incSource, { tasks: params.tasks, ms: params.ms, window: params.window });
      return { rate: (r.done / r.ms) * 1000, info: { ...r, busy: params.busy } };
    } finally {
      await load.stop();
    }
  },
};
