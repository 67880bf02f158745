#!/usr/bin/env node
/**
 * iocp-pool/piscina against the ThreadPool it wraps: tiny tasks (x → x + 1), 2 threads, as
 * scenario (3) run-tiny (128 in flight, every result checked) and one at a time (latency).
 * Each measurement runs in a fresh process; the two subjects alternate (A B A B …) so that drift
 * and the load of the machine fall on both alike. Prints medians and the ratio Piscina / ThreadPool.
 *
 *   npm run build && node bench/piscina.mjs [--rounds 8] [--n 100000]
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { keepFull, oneByOne } from './lib/drive.mjs';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '8' }, n: { type: 'string', default: '100000' }, child: { type: 'string' } },
});
const n = Number(values.n);
const worker = fileURLToPath(new URL('./workers/inc.mjs', import.meta.url));

if (values.child !== undefined) {
  // One measurement: { rate } tasks/s with 128 in flight, { p50 } µs one at a time.
  let pool;
  let run;
  if (values.child === 'ThreadPool') {
    const { ThreadPool } = await import('../dist/index.js');
    pool = new ThreadPool({ filename: worker, threads: 2 });
    run = (x) => pool.run(x);
  } else {
    const { Piscina } = await import('../dist/piscina.js');
    pool = new Piscina({ filename: worker, minThreads: 2, maxThreads: 2 });
    run = (x) => pool.run(x);
  }
  await keepFull(run, n / 5, 128);
  const ms = await keepFull(run, n, 128, n);
  const lat = await oneByOne(run, Math.min(n / 5, 20_000));
  lat.sort();
  await pool.close();
  console.log(JSON.stringify({ rate: (n / ms) * 1000, p50: lat[lat.length >> 1] / 1000 }));
} else {
  const subjects = ['ThreadPool', 'Piscina'];
  const results = { ThreadPool: [], Piscina: [] };
  const before = loadavg()[0];
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const subject of round % 2 === 0 ? subjects : [...subjects].reverse()) {
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', subject, '--n', String(n)], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`${subject}: ${child.stderr}`);
      results[subject].push(JSON.parse(child.stdout.trim().split('\n').at(-1)));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const m = (subject, key) => median(results[subject].map((r) => r[key]));
  for (const subject of subjects) {
    console.log(
      `${subject.padEnd(10)} throughput ${(m(subject, 'rate') / 1e3).toFixed(0)} k tasks/s   latency p50 ${m(subject, 'p50').toFixed(2)} µs`,
    );
  }
  console.log(
    `Piscina / ThreadPool: throughput ${(m('Piscina', 'rate') / m('ThreadPool', 'rate')).toFixed(3)}, latency ${(m('Piscina', 'p50') / m('ThreadPool', 'p50')).toFixed(3)}`,
  );
  console.log(`load average (1 min) before ${before.toFixed(2)}, after ${loadavg()[0].toFixed(2)}; ${values.rounds} rounds, n = ${n}`);
}
