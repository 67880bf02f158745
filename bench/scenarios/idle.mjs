/**
 * Scenario (6): idle cost. A 4-thread pool is warmed (every thread has run
 * tasks), left alone 200 ms, then process.cpuUsage() (which counts every
 * thread of the process) is read across `idleMs` of doing nothing. Reported
 * as % of one core. The `node (no pool)` row is the same process with no
 * pool: the floor.
 */
import { ADAPTERS } from '../adapters/index.mjs';
import { keepFull, sleep } from '../lib/drive.mjs';
import { poolSubjects } from '../lib/subjects.mjs';

export default {
  id: 'idle',
  cases: ({ quick }) => [
    {
      id: 'idle-cpu',
      title: `(6) Idle cost: CPU a 4-thread pool uses over ${quick ? '0.3' : '2'} idle seconds`,
      note: `process.cpuUsage() (user + system, all threads) after warm-up and a ${quick ? 100 : 200} ms settle; % of one core.`,
      subjects: [...poolSubjects(), { id: 'baseline', label: 'node (no pool)', kind: 'baseline' }],
      compareTo: 'peer',
      metrics: [{ key: 'cpu', label: 'CPU while idle', unit: '% of a core', better: 'lower' }],
      params: { threads: 4, idleMs: quick ? 300 : 2000, settleMs: quick ? 100 : 200, warm: quick ? 2_000 : 20_000 },
      targets: [{ metric: 'cpu', label: 'Idle < 1 % of one core', below: 1 }],
    },
  ],

  async measure(_caseId, subject, { threads, idleMs, settleMs, warm }) {
    let pool = null;
    if (subject !== 'baseline') {
      pool = await ADAPTERS[subject].create({ threads, job: 'inc' });
      await keepFull(pool.run, warm, 64);
    } else {
      // The same warm-up shape without a pool, so the floor includes the same settling of the main thread.
      await keepFull(async (x) => x + 1, warm, 64);
    }
    await sleep(settleMs);
    const before = process.cpuUsage();
    const t0 = performance.now();
    await sleep(idleMs);
    const used = process.cpuUsage(before);
    const wall = performance.now() - t0;
    const cpuMs = (used.user + used.system) / 1000;
    return { cpu: (cpuMs / wall) * 100, info: { cpuMs, wallMs: wall } };
  },
};
