/**
 * Scenario (10): an open loop at a fixed rate, as a server's requests come:
 * tasks of ≈ 50 µs of CPU (fixed work) arrive one by one at 4,000/s, whether
 * or not the previous ones are done, 2 threads. A 1 ms interval timer
 * submits, at each tick, the tasks due by then on a precise schedule (task k
 * at k / rate seconds; about 4 a tick). Reported, over the measured window
 * (after a warm-up at the same rate):
 *
 *   cpu   the main thread's CPU per task (user + system: bench/lib/cpu.mjs),
 *         the arrival timer and the checks included: what the pool costs the
 *         thread that serves the app
 *   p50, p99  latency from submit to settle
 *
 * The `timer only` row runs the same schedule and checks with no pool (each
 * task settles at once with its result): the floor of the harness itself.
 */
import { ADAPTERS } from '../adapters/index.mjs';
import { mainThreadClock, statCpuMicros } from '../lib/cpu.mjs';
import { latencySummary } from '../lib/stats.mjs';
import { poolSubjects } from '../lib/subjects.mjs';
import { spin } from '../workers/app-tasks.mjs';

const THREADS = 2;
const SPIN_50US = 27_000; // ≈ 50 µs on the machine of docs/benchmarks.md
const SEED = 777;

/**
 * Submits `rate × ms / 1000` tasks on a precise schedule from a 1 ms timer and
 * resolves, once every one has settled, with their latencies (ns) and the
 * largest number submitted in one tick (how far the timer fell behind).
 */
function openLoop(run, { rate, ms, expected, n }) {
  return new Promise((resolve, reject) => {
    const total = Math.round((rate * ms) / 1000);
    const submitted = new Float64Array(total);
    const latency = new Float64Array(total);
    let sent = 0;
    let done = 0;
    let burst = 0;
    let failed = false;
    const start = performance.now();
    const settle = (r, i) => {
      if (failed) return;
      latency[i] = (performance.now() - submitted[i]) * 1e6;
      if (r?.i !== i || r.h !== expected) {
        failed = true;
        clearInterval(timer);
        return reject(new Error(`task ${i}: wrong result ${JSON.stringify(r)}`));
      }
      if (++done === total) resolve({ latency, total, burst, ms: performance.now() - start });
    };
    const fail = (e) => {
      if (!failed) reject(e);
      failed = true;
      clearInterval(timer);
    };
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) * rate) / 1000));
      burst = Math.max(burst, due - sent);
      while (sent < due) {
        const i = sent++;
        submitted[i] = performance.now();
        run({ i, n, seed: SEED }).then((r) => settle(r, i), fail);
      }
      if (sent === total) clearInterval(timer);
    };
    const timer = setInterval(tick, 1);
  });
}

export default {
  id: 'openloop',
  cases: ({ quick }) => {
    const params = { rate: 4000, ms: quick ? 600 : 3000, warmMs: quick ? 300 : 1000, n: SPIN_50US };
    const pools = poolSubjects().filter((s) => !quick || s.id !== 'workerpool');
    return [
      {
        id: 'open-loop',
        group: 'workload',
        title: `(10) open loop: ≈ 50 µs CPU tasks arriving at ${params.rate.toLocaleString('en-US')}/s from a timer, 2 threads`,
        note: `A 1 ms interval timer submits the tasks due by then (task k at k / ${params.rate.toLocaleString('en-US')} s), whether or not earlier ones are done: ${((params.rate * params.ms) / 1000).toLocaleString('en-US')} tasks over ${params.ms / 1000} s after a ${params.warmMs / 1000} s warm-up at the same rate. CPU: the main thread's user + system time over the window / tasks (Linux: /proc/self/task/<pid>/schedstat; process.threadCpuUsage() where Node has it), the timer and the result checks included. Latency: submit to settle. "timer only": the same schedule with no pool, each task settling at once: the harness's own cost. Each subject in a fresh process.`,
        subjects: [...pools, { id: 'timer', label: 'timer only (no pool)', kind: 'baseline' }],
        compareTo: 'peer',
        metrics: [
          { key: 'cpu', label: 'main-thread CPU per task', unit: 'µs', better: 'lower' },
          { key: 'p50', label: 'latency p50', unit: 'µs', better: 'lower' },
          { key: 'p99', label: 'latency p99', unit: 'µs', better: 'lower' },
        ],
        params,
        targets: [
          { metric: 'cpu', label: 'open loop: main-thread CPU per task ≤ ½ piscina', ratioAtMost: 0.5, against: 'piscina' },
          { metric: 'p99', label: 'open loop: latency p99 ≤ piscina', ratioAtMost: 1, against: 'piscina' },
        ],
      },
    ];
  },

  async measure(_caseId, subject, { rate, ms, warmMs, n }) {
    const expected = spin(n, SEED);
    let run;
    if (subject === 'timer') run = ({ i }) => Promise.resolve({ i, h: expected });
    else run = (await ADAPTERS[subject].create({ threads: THREADS, job: 'spin' })).run;
    const clock = mainThreadClock();
    await openLoop(run, { rate, ms: warmMs, expected, n });
    const cpu0 = clock.read();
    const stat0 = statCpuMicros();
    const all0 = process.cpuUsage();
    const r = await openLoop(run, { rate, ms, expected, n });
    const cpu = clock.read() - cpu0;
    const stat = statCpuMicros() - stat0;
    const all = process.cpuUsage(all0);
    const lat = latencySummary(r.latency);
    return {
      cpu: cpu / r.total,
      p50: lat.p50,
      p99: lat.p99,
      info: {
        clock: clock.source,
        tasks: r.total,
        rate: (r.total / r.ms) * 1000,
        // The same main-thread CPU from /proc's stat, 10 ms ticks: a cross-check of the finer clock.
        statCpuPerTask: stat / r.total,
        processCpuPerTask: (all.user + all.system) / r.total,
        maxPerTick: r.burst,
        latency: lat,
      },
    };
  },
};
