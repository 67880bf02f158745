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
      title: `(6) Idle cost: CPU a 4-thread pool uses over ${quick ? '0.5' : '2'} idle seconds`,
      note: 'process.cpuUsage() (user + system, all threads) after warm-up and a 200 ms settle; % of one core.',
      subjects: [...poolSubjects(), { id: 'baseline', label: 'node (no pool)', kind: 'baseline' }],
      compareTo: 'peer',
      metrics: [{ key: 'cpu', label: 'CPU while idle', unit: '% of a core', better: 'lower' }],
      params: { threads: 4, idleMs: quick ? 500 : 2000 },
      targets: [{ metric: 'cpu', label: 'Idle < 1 % of one core', below: 1 }],
    },
  ],

  async measure(_caseId, subject, { threads, idleMs }) {
    let pool = null;
    if (subject !== 'baseline') {
      pool = await ADAPTERS[subject].create({ threads, job: 'inc' });
      await keepFull(pool.run, 20_000, 64);
    }
    await sleep(200);
    const before = process.cpuUsage();
    const t0 = performance.now();
    await sleep(idleMs);
    const used = process.cpuUsage(before);
    const wall = performance.now() - t0;
    if (pool) await pool.destroy();
    const cpuMs = (used.user + used.system) / 1000;
    return { cpu: (cpuMs / wall) * 100, info: { cpuMs, wallMs: wall } };
  },
};
