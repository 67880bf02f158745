// Quick throughput/latency check: tiny tasks (x → x + 1), 2 threads, iocp-pool vs piscina in the same run.
//   npm run build && node bench/pool-quick.mjs [tasks=200000] [window=1024]
// "Pipe kept full": `window` tasks are in flight at all times; each completion submits the next.
// Then one-at-a-time latency (await each run) for 20 000 tasks: p50/p99 in µs.
// This file is also the worker module both pools load (isMainThread is false there).
import os from 'node:os';
import { isMainThread } from 'node:worker_threads';

/** The tiny task. */
export default function addOne(x) {
  return x + 1;
}

const TASKS = Number(process.argv[2] ?? 200_000);
// window "all": submit every task at once (most wait in the pool's queue).
const WINDOW = process.argv[3] === 'all' ? Infinity : Number(process.argv[3] ?? 1024);
const LAT = 20_000;
const filename = import.meta.url;

async function throughput(run) {
  let submitted = 0;
  let done = 0;
  let check = 0;
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const next = () => {
      const x = submitted++;
      run(x).then((r) => {
        check += r - x;
        if (++done === TASKS) resolve();
        else if (submitted < TASKS) next();
      }, reject);
    };
    for (let i = 0; i < Math.min(WINDOW, TASKS); i++) next();
  });
  const ms = performance.now() - t0;
  if (check !== TASKS) throw new Error(`wrong results: ${check}`);
  return Math.round(TASKS / (ms / 1000));
}

async function latency(run) {
  const samples = new Float64Array(LAT);
  for (let i = 0; i < 2000; i++) await run(i); // warm-up
  for (let i = 0; i < LAT; i++) {
    const t = performance.now();
    await run(i);
    samples[i] = (performance.now() - t) * 1000;
  }
  samples.sort();
  return { p50: samples[LAT >> 1].toFixed(1), p99: samples[Math.floor(LAT * 0.99)].toFixed(1) };
}

async function main() {
  const { Piscina } = await import('piscina');
  const { ThreadPool } = await import('../dist/index.js');
  const pools = {
    'iocp-pool': () => {
      const pool = new ThreadPool({ filename, threads: 2, minThreads: 2 });
      return { run: (x) => pool.run(x), ready: pool.ready, close: () => pool.close() };
    },
    piscina: () => {
      const pool = new Piscina({ filename, minThreads: 2, maxThreads: 2 });
      return { run: (x) => pool.run(x), ready: Promise.resolve(), close: () => pool.destroy() };
    },
  };

  console.log(
    `node ${process.version}, ${os.availableParallelism()} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(`${TASKS} tiny tasks, window ${WINDOW}, 2 threads`);
  for (const [name, make] of Object.entries(pools)) {
    const pool = make();
    await pool.ready;
    await throughput(pool.run); // warm-up (JIT, thread start)
    const tps = await throughput(pool.run);
    const lat = await latency(pool.run);
    console.log(`${name.padEnd(10)} ${String(tps).padStart(9)} tasks/s   one-at-a-time p50 ${lat.p50} µs  p99 ${lat.p99} µs`);
    await pool.close();
  }
  console.log(
    `load after: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

if (isMainThread) await main();
