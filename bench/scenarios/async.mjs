/**
 * Scenario (9): async handlers, as apps write them. 2 threads for every
 * library; all tasks submitted at once; every result checked; each task says
 * which thread ran it (its threadId), so the report gives the busiest
 * thread's share of the tasks as well as the time.
 *
 *   async-cpu    await readFile(a 1 KB file), then ≈ 20 ms of CPU (fixed work:
 *                bench/workers/app-tasks.mjs spin). The I/O is short, the CPU
 *                long: a pool that lets one thread take every task while its
 *                handlers await runs them all on that thread, one after the
 *                other, while the other thread idles.
 *   async-sleep  await sleep(200 ms) and nothing else (a database or HTTP call
 *                standing for the I/O): a pool that overlaps awaiting handlers
 *                finishes 2,000 of them in little more than 200 ms.
 *
 * The peers run at their defaults (one task per thread at a time) in
 * async-cpu, and also with their option for async handlers, the rows named
 * "N async tasks per thread" (bench/adapters: piscina's and tinypool's
 * concurrentTasksPerWorker); async-sleep has only the rows that can overlap
 * (at their defaults a 2,000 × 200 ms run takes 200 s). workerpool has no
 * such option: its async-sleep row says so instead of a number. poolifier
 * overlaps at its defaults.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADAPTERS } from '../adapters/index.mjs';
import { spin } from '../workers/app-tasks.mjs';
import { poolSubjects } from '../lib/subjects.mjs';

const THREADS = 2;
const SPIN_20MS = 10_500_000; // ≈ 20 ms on the machine of docs/benchmarks.md
const SEED = 12345;
const OVERLAP = '-async';

/** A peer set up for async handlers: subject id `${id}-async`. */
const overlapping = (s, n) => ({ ...s, id: `${s.id}${OVERLAP}`, label: `${s.label}, ${n.toLocaleString('en-US')} async tasks per thread` });

const share = { key: 'share', label: "busiest thread's share", unit: '%', better: 'lower' };

export default {
  id: 'async',
  cases: ({ quick }) => {
    const cpu = { tasks: quick ? 20 : 100, warm: 2 * THREADS, spin: SPIN_20MS };
    const sleep = { tasks: quick ? 400 : 2000, warm: 20, ms: 200 };
    // Quick mode leaves workerpool out (the slowest to start).
    const pools = poolSubjects().filter((s) => !quick || s.id !== 'workerpool');
    const peer = (id) => pools.find((s) => s.id === id);
    return [
      {
        id: 'async-cpu',
        group: 'workload',
        title: `(9a) async handler: await readFile(1 KB), then ≈ 20 ms of CPU; ${cpu.tasks} tasks at once, 2 threads`,
        note: `All ${cpu.tasks} tasks submitted at once after a warm-up of ${cpu.warm}; time until the last settles. The CPU work is fixed (${SPIN_20MS.toLocaleString('en-US')} rounds of an integer hash, ≈ 20 ms here), so ${cpu.tasks} tasks on 2 threads take at least ${(cpu.tasks * 10).toLocaleString('en-US')} ms. Share: the tasks the busiest thread ran / all (50 % = evenly split). Each subject in a fresh process.`,
        // Quick mode leaves the overlapping piscina out here: (9b) runs its option.
        subjects: quick ? pools : [...pools, overlapping(peer('piscina'), cpu.tasks)],
        compareTo: 'peer',
        metrics: [{ key: 'ms', label: 'time', unit: 'ms', better: 'lower' }, share],
        params: cpu,
        targets: [
          { metric: 'ms', label: 'async handler (readFile + 20 ms CPU): time ≤ piscina', ratioAtMost: 1, against: 'piscina' },
          { metric: 'share', label: "async handler (readFile + 20 ms CPU): busiest thread's share ≤ 60 %", atMost: 60 },
        ],
      },
      {
        id: 'async-sleep',
        group: 'workload',
        title: `(9b) pure I/O: ${sleep.tasks.toLocaleString('en-US')} × await sleep(${sleep.ms} ms) at once, 2 threads`,
        note: `All ${sleep.tasks.toLocaleString('en-US')} tasks submitted at once after a warm-up of ${sleep.warm}; time until the last settles. A pool that overlaps awaiting handlers takes little more than ${sleep.ms} ms; the peers run with their option for async handlers (at their defaults, one task per thread at a time, this takes ${((sleep.tasks * sleep.ms) / THREADS / 1000).toLocaleString('en-US')} s). Each subject in a fresh process.`,
        subjects: pools.map((s) => (s.id === 'piscina' || s.id === 'tinypool' ? overlapping(s, sleep.tasks) : s)),
        compareTo: 'peer',
        metrics: [{ key: 'ms', label: 'time', unit: 'ms', better: 'lower' }, share],
        params: sleep,
        targets: [
          { metric: 'ms', label: `pure I/O: ${sleep.tasks.toLocaleString('en-US')} × sleep(${sleep.ms} ms) on 2 threads < 1 s`, below: 1000 },
        ],
      },
    ];
  },

  async measure(caseId, subject, params) {
    const id = subject.endsWith(OVERLAP) ? subject.slice(0, -OVERLAP.length) : subject;
    const adapter = ADAPTERS[id];
    if (caseId === 'async-sleep' && !adapter.overlapsAsync) {
      return { unavailable: `${adapter.label} runs one task per thread at a time and has no option to overlap async handlers` };
    }
    const asyncTasksPerThread = subject.endsWith(OVERLAP) ? params.tasks : undefined;
    if (caseId === 'async-cpu') {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'iocp-bench-'));
      try {
        const file = path.join(dir, 'small.txt');
        writeFileSync(file, 'lorem ipsum '.repeat(86).slice(0, 1024));
        const pool = await adapter.create({ threads: THREADS, job: 'io-cpu', asyncTasksPerThread });
        const expected = spin(params.spin, SEED);
        const task = (i) => ({ i, file, n: params.spin, seed: SEED });
        const check = (r, i) => r?.i === i && r.bytes === 1024 && r.h === expected;
        await allAtOnce(pool.run, params.warm, task, check);
        return await allAtOnce(pool.run, params.tasks, task, check);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const pool = await adapter.create({ threads: THREADS, job: 'io-sleep', asyncTasksPerThread });
    const task = (i) => ({ i, ms: params.ms });
    const check = (r, i) => r?.i === i && Number.isInteger(r.threadId);
    await allAtOnce(pool.run, params.warm, task, check);
    return await allAtOnce(pool.run, params.tasks, task, check);
  },
};

/** Submits n tasks at once; resolves with the time until the last settled and how the threads split them. */
async function allAtOnce(run, n, task, check) {
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: n }, (_, i) => run(task(i))));
  const ms = performance.now() - t0;
  const perThread = new Map();
  for (const [i, r] of results.entries()) {
    if (!check(r, i)) throw new Error(`task ${i}: wrong result ${JSON.stringify(r)}`);
    perThread.set(r.threadId, (perThread.get(r.threadId) ?? 0) + 1);
  }
  const counts = [...perThread.values()].sort((a, b) => b - a);
  return { ms, share: (100 * counts[0]) / n, info: { tasks: n, perThread: counts } };
}
