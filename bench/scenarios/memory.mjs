/**
 * Scenario (7): memory.
 *
 *   rss-thread  RSS per thread = (RSS with a warm 4-thread pool − RSS of the
 *               same process before the pool, library loaded) / 4, after gc.
 *   rss-growth  RSS after `calls` run() calls (2 threads, 128 in flight)
 *               minus RSS after a warm-up (20,000 calls; quick 2,000), both after gc.
 *
 * The child runs with --expose-gc so both readings are taken after a full GC
 * of the main thread (workers collect on their own).
 */
import { ADAPTERS } from '../adapters/index.mjs';
import { keepFull, sleep } from '../lib/drive.mjs';
import { poolSubjects } from '../lib/subjects.mjs';

const MB = 1024 * 1024;

async function settledRss(ms) {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await sleep(ms);
  }
  return process.memoryUsage().rss;
}

export default {
  id: 'memory',
  cases: ({ quick }) => {
    const calls = quick ? 5_000 : 1_000_000;
    const warm = quick ? 1_000 : 20_000;
    const settleMs = quick ? 10 : 50;
    return [
      {
        id: 'rss-thread',
        title: '(7a) Memory: RSS per thread (4-thread pool, warm)',
        note: '(RSS with a warm 4-thread pool − RSS before the pool, library loaded) / 4, after gc.',
        subjects: poolSubjects(),
        compareTo: 'peer',
        metrics: [{ key: 'perThread', label: 'RSS per thread', unit: 'MB', better: 'lower' }],
        params: { threads: 4, warm, settleMs },
        nodeArgs: ['--expose-gc'],
        targets: [{ metric: 'perThread', label: "RSS per thread ≤ piscina's", ratioAtMost: 1, against: 'piscina' }],
      },
      {
        id: 'rss-growth',
        title: `(7b) Memory: RSS growth over ${calls.toLocaleString('en-US')} run() calls${quick ? ' (quick mode: 1/200 of the full run)' : ''}`,
        note: `RSS after the calls − RSS after a ${warm.toLocaleString('en-US')}-call warm-up, both after gc; 2 threads, 128 in flight.`,
        subjects: poolSubjects(),
        compareTo: 'peer',
        metrics: [{ key: 'growth', label: 'RSS growth', unit: 'MB', better: 'lower' }],
        params: { threads: 2, calls, warm, settleMs },
        nodeArgs: ['--expose-gc'],
        targets: [{ metric: 'growth', label: `RSS growth over ${calls.toLocaleString('en-US')} calls < 10 MB`, below: 10 }],
      },
    ];
  },

  async measure(caseId, subject, { threads, calls, warm, settleMs }) {
    if (caseId === 'rss-thread') {
      // Load the library (and create-and-destroy nothing) so its code is not counted per thread.
      await import(subject === 'iocp-pool' ? '../../dist/index.js' : subject);
      const before = await settledRss(settleMs);
      const pool = await ADAPTERS[subject].create({ threads, job: 'inc' });
      await keepFull(pool.run, warm, 64);
      const after = await settledRss(settleMs);
      return { perThread: (after - before) / threads / MB, info: { beforeMB: before / MB, afterMB: after / MB } };
    }
    const pool = await ADAPTERS[subject].create({ threads, job: 'inc' });
    await keepFull(pool.run, warm, 128);
    const before = await settledRss(settleMs);
    const ms = await keepFull(pool.run, calls, 128, warm);
    const after = await settledRss(settleMs);
    return { growth: (after - before) / MB, info: { beforeMB: before / MB, afterMB: after / MB, rate: (calls / ms) * 1000 } };
  },
};
