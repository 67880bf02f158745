/**
 * Scenario (4): one task at a time. Each run(x) is awaited before the next;
 * every call is timed with process.hrtime, after a warm-up. Reports the
 * round trip's p50 and p99 (µs) of each run; the table gives their medians.
 */
import { ADAPTERS } from '../adapters/index.mjs';
import { oneByOne } from '../lib/drive.mjs';
import { latencySummary } from '../lib/stats.mjs';
import { poolSubjects } from '../lib/subjects.mjs';

export default {
  id: 'latency',
  cases: ({ quick }) => [
    {
      id: 'run-latency',
      title: '(4) One task at a time: run() round trip, 2 threads',
      note: `${quick ? '1,000' : '20,000'} sequential awaited run() calls after ${quick ? '300' : '2,000'} warm-up calls; per-call time with process.hrtime.`,
      subjects: poolSubjects(),
      compareTo: 'peer',
      metrics: [
        { key: 'p50', label: 'p50', unit: 'µs', better: 'lower' },
        { key: 'p99', label: 'p99', unit: 'µs', better: 'lower' },
      ],
      params: { threads: 2, n: quick ? 1_000 : 20_000, warm: quick ? 300 : 2_000 },
      targets: [{ metric: 'p50', label: 'run() latency p50 ≤ 1/5 of best peer', ratioAtMost: 0.2 }],
    },
  ],

  async measure(_caseId, subject, { threads, n, warm }) {
    const pool = await ADAPTERS[subject].create({ threads, job: 'inc' });
    await oneByOne(pool.run, warm);
    const lat = await oneByOne(pool.run, n);
    const s = latencySummary(lat);
    return { p50: s.p50, p99: s.p99, info: s };
  },
};
