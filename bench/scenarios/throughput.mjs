/**
 * Scenarios (2) and (3): tasks per second at 2 threads with the pipe kept full.
 *
 *   queue-tiny  iocp-pool's queueRequest(x) (fire-and-forget, no promise) vs
 *               the peers' cheapest path. None of the peers has a
 *               fire-and-forget call, so their cheapest path is run() with the
 *               result ignored: the same measurement as run-tiny.
 *               iocp-pool's time runs from the first queueRequest to close()
 *               resolving (every queued request handled, threads exited).
 *   run-tiny    run(x) → x + 1, n tasks, `window` in flight, results checked.
 */
import { ADAPTERS } from '../adapters/index.mjs';
import { keepFull } from '../lib/drive.mjs';
import { poolSubjects } from '../lib/subjects.mjs';

const rate = [{ key: 'rate', label: 'throughput', unit: 'tasks/s', better: 'higher' }];

export default {
  id: 'throughput',
  cases: ({ quick }) => {
    const params = { threads: 2, n: quick ? 5_000 : 200_000, warm: quick ? 1_000 : 20_000, window: 128 };
    return [
      {
        id: 'queue-tiny',
        title: '(2) queueRequest throughput, 2 threads',
        note: 'iocp-pool: queueRequest(x), timed until close() resolves (all handled). Peers have no fire-and-forget call: their cheapest path, run() with the result ignored, 128 in flight.',
        subjects: poolSubjects(),
        compareTo: 'peer',
        metrics: rate,
        params,
      },
      {
        id: 'run-tiny',
        title: `(3) run() tiny tasks (x → x + 1), ${params.n.toLocaleString('en-US')} tasks, 2 threads`,
        note: 'Pipe kept full: 128 tasks in flight, a new one submitted as each settles; every result checked.',
        subjects: poolSubjects(),
        compareTo: 'peer',
        metrics: rate,
        params,
        targets: [{ metric: 'rate', label: 'run() tiny-task throughput ≥ 10 × best peer', ratioAtLeast: 10 }],
      },
    ];
  },

  async measure(caseId, subject, { threads, n, warm, window }) {
    const pool = await ADAPTERS[subject].create({ threads, job: 'inc' });
    await keepFull(pool.run, warm, window);
    if (caseId === 'queue-tiny' && pool.queue) {
      const t0 = performance.now();
      // A full queue: give the event loop a turn (the workers keep draining) and try again;
      // a pool that never takes it again ends in the parent's timeout, not in a silent spin.
      let full = 0;
      for (let i = 0; i < n; ) {
        if (pool.queue(i)) i++;
        else {
          full++;
          await new Promise((r) => setImmediate(r));
        }
      }
      await pool.drain();
      const ms = performance.now() - t0;
      return { rate: (n / ms) * 1000, info: { ms, path: 'queueRequest', full } };
    }
    const ms = await keepFull(pool.run, n, window, warm);
    return { rate: (n / ms) * 1000, info: { ms, path: 'run' } };
  },
};
