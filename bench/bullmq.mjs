/**
 * BullMQ on one machine, three ways: `npm run build && node bench/bullmq.mjs [--quick] [--rounds N]`.
 *
 *   (a) inline    an in-process BullMQ processor (the job runs on the main thread)
 *   (b) sandbox   BullMQ's sandboxed processor with useWorkerThreads: true
 *   (c) pool      iocp-pool/bullmq: createWorker() on a ThreadPool (default size)
 *   (c') pool-nc  the same with cancellation: false (no AbortSignal per job)
 *
 * Same local redis-server (started here: a free loopback port, no
 * persistence), same queue setup, same BullMQ concurrency (64), the same job
 * function (bench/workers/bullmq-job.mjs). Two jobs: 5,000 tiny ones
 * (x + 1) and 2,000 CPU ones (fib(25)). Each measurement runs in a fresh
 * node process: the jobs are added, the worker (and pool) is created and
 * connected, then the clock runs from worker.run() to the last 'completed'
 * event.
 * Peak RSS is the process's maxRSS (getrusage), threads included; CPU/job is
 * the process's CPU time (every thread) over the run divided by the jobs;
 * main/job is the main thread's event-loop busy time per job.
 * `--variants inline,pool` measures only those; `--pool '{"spinCount":0}'`
 * passes options to the pool variants' ThreadPool.
 * Rounds are interleaved (the order rotates each round); the table shows
 * medians. It says the load average at the start and the end: on a shared
 * machine, quote ratios from one run, not absolute figures.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { fmt, ratio } from './lib/format.mjs';
import { findRedis, NO_REDIS, startRedis } from './lib/redis-server.mjs';
import { summarize } from './lib/stats.mjs';

const SELF = fileURLToPath(import.meta.url);
const CONCURRENCY = 64;
const VARIANTS = [
  { id: 'inline', label: '(a) in-process processor' },
  { id: 'sandbox', label: '(b) sandboxed, useWorkerThreads' },
  { id: 'pool', label: '(c) iocp-pool/bullmq' },
  // The same without BullMQ's per-job AbortSignal (and the pool thread's): what cancellation costs.
  { id: 'pool-nc', label: "(c') same, cancellation: false" },
];

if (process.argv[2] === '--child') {
  await child(JSON.parse(process.argv[3]));
} else {
  await main(process.argv.slice(2));
}

// ───────────────────────────── one measurement ─────────────────────────────

async function child({ variant, kind, n, port, queueName, poolOptions = {} }) {
  const { Queue, Worker } = await import('bullmq');
  const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
  const warnings = [];
  process.on('warning', (warning) => warnings.push(warning.name));
  const queue = new Queue(queueName, { connection });
  const data = (i) => (kind === 'tiny' ? { x: i } : { fib: 25 });
  for (let i = 0; i < n; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ name: kind, data: data(i + j) })));
  }
  // autorun: false — the clock starts once the worker is connected (and the pool's threads are up).
  const options = { connection, concurrency: CONCURRENCY, autorun: false };
  let pool;
  let done = 0;
  let failed;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  let worker;
  if (variant === 'inline') {
    const { work } = await import('./workers/bullmq-job.mjs');
    worker = new Worker(queueName, async (job) => work(job.data), options);
  } else if (variant === 'sandbox') {
    // Its threads start on demand, one per concurrent job (then kept): that is part of its number.
    worker = new Worker(queueName, new URL('./workers/bullmq-sandbox.mjs', import.meta.url), { ...options, useWorkerThreads: true });
  } else {
    const { ThreadPool } = await import('../dist/index.js');
    const { createWorker } = await import('../dist/bullmq.js');
    pool = new ThreadPool({ filename: new URL('./workers/bullmq-job.mjs', import.meta.url), ...poolOptions });
    await pool.ready;
    worker = createWorker(queueName, pool, { ...options, handlerName: () => undefined, cancellation: variant === 'pool' });
  }
  await worker.waitUntilReady();
  worker.on('completed', () => {
    if (++done === n) finish();
  });
  worker.on('failed', (_job, error) => {
    failed ??= error;
    finish();
  });
  worker.on('error', (error) => {
    failed ??= error;
    finish();
  });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  void worker.run();
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  if (failed !== undefined) throw failed;
  const result = {
    jobsPerSec: n / seconds,
    // Where the time goes: CPU of the whole process (every thread) per job, and the
    // main thread's event-loop busy time per job (wall time: inflated when the machine is loaded).
    cpuUsPerJob: (cpu.user + cpu.system) / n,
    mainUsPerJob: (elu.active * 1000) / n,
    peakRssMB: (process.resourceUsage().maxRSS * 1024) / 2 ** 20,
    threads: pool?.threads ?? null,
    warnings: warnings.length,
    maxListenerWarnings: warnings.filter((name) => name === 'MaxListenersExceededWarning').length,
  };
  process.stdout.write(`@@RESULT ${JSON.stringify(result)}\n`);
  // Measured: leave without teardown (not part of the number); exit ends every thread.
  process.exit(0);
}

function measure(spec) {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [SELF, '--child', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 300_000);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').findLast((l) => l.startsWith('@@RESULT '));
      if (code === 0 && line) resolve({ ok: true, ...JSON.parse(line.slice(9)) });
      else resolve({ ok: false, error: `exited with ${signal ?? code}: ${err.trim().split('\n').slice(-6).join(' | ')}` });
    });
  });
}

// ──────────────────────────────── the parent ────────────────────────────────

async function main(argv) {
  const quick = argv.includes('--quick');
  const roundsAt = argv.indexOf('--rounds');
  const rounds = roundsAt >= 0 ? Number(argv[roundsAt + 1]) : quick ? 1 : 5;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds needs a positive integer');
  // --variants inline,pool: measure only these; --pool '{"threads":2}': options for the pool variants.
  const variantsAt = argv.indexOf('--variants');
  const variants = variantsAt >= 0 ? VARIANTS.filter((v) => argv[variantsAt + 1].split(',').includes(v.id)) : VARIANTS;
  if (variants.length === 0) throw new Error(`--variants takes some of ${VARIANTS.map((v) => v.id).join(',')}`);
  const poolAt = argv.indexOf('--pool');
  const poolOptions = poolAt >= 0 ? JSON.parse(argv[poolAt + 1]) : {};
  if (!existsSync(new URL('../dist/bullmq.js', import.meta.url))) {
    console.error('dist/bullmq.js is missing: run `npm run build` first.');
    process.exit(2);
  }
  if (findRedis() === undefined) {
    console.error(`bench/bullmq.mjs: ${NO_REDIS}`);
    process.exit(2);
  }
  const kinds = [
    { id: 'tiny', label: `${quick ? 500 : 5000} tiny jobs (x + 1)`, n: quick ? 500 : 5000 },
    { id: 'cpu', label: `${quick ? 100 : 2000} CPU jobs (fib(25))`, n: quick ? 100 : 2000 },
  ];
  const { default: Redis } = await import('ioredis');
  const { version: bullmqVersion } = createRequire(import.meta.url)('bullmq/package.json');
  const redis = await startRedis();
  const admin = new Redis(redis.connection);
  const redisVersion = (await admin.info('server')).match(/redis_version:(\S+)/)?.[1];
  const loadStart = os.loadavg();
  console.log(
    `BullMQ ${bullmqVersion} on redis-server ${redisVersion} (local), concurrency ${CONCURRENCY}; ` +
      `${os.cpus()[0]?.model.trim()}, ${os.availableParallelism()} cores, Node ${process.versions.node}`,
  );
  console.log(
    `load average at start: ${loadStart.map((x) => x.toFixed(2)).join(' ')}; ${rounds} round(s)${quick ? ' (QUICK: small sizes, do not quote)' : ''}`,
  );
  if (poolAt >= 0) console.log(`pool options: ${JSON.stringify(poolOptions)}`);

  const results = {}; // kind → variant → [result]
  let failures = 0;
  let q = 0;
  for (let round = 0; round < rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]);
    for (const kind of kinds) {
      for (const variant of order) {
        await admin.flushall();
        const r = await measure({ variant: variant.id, kind: kind.id, n: kind.n, port: redis.port, queueName: `bench${++q}`, poolOptions });
        ((results[kind.id] ??= {})[variant.id] ??= []).push(r);
        if (!r.ok) {
          failures++;
          console.error(`  ${kind.id} ${variant.id} round ${round + 1}: ${r.error}`);
        } else {
          process.stdout.write(
            `  round ${round + 1} ${kind.id.padEnd(4)} ${variant.id.padEnd(7)} ${fmt(r.jobsPerSec).padStart(7)} jobs/s  ${r.peakRssMB.toFixed(0).padStart(5)} MB\n`,
          );
        }
      }
    }
  }
  await admin.quit();
  await redis.stop();
  const loadEnd = os.loadavg();

  console.log(`\nload average at end: ${loadEnd.map((x) => x.toFixed(2)).join(' ')}`);
  const med = {};
  for (const kind of kinds) {
    console.log(`\n${kind.label}: median of ${rounds} (min–max)`);
    console.log(
      `  ${'variant'.padEnd(34)} ${'jobs/s'.padStart(8)} ${'(min–max)'.padStart(17)} ${'peak RSS'.padStart(9)} ${'CPU/job'.padStart(9)} ${'main/job'.padStart(9)}  notes`,
    );
    for (const variant of variants) {
      const ok = (results[kind.id]?.[variant.id] ?? []).filter((r) => r.ok);
      const rate = summarize(ok.map((r) => r.jobsPerSec));
      const rss = summarize(ok.map((r) => r.peakRssMB));
      const cpu = summarize(ok.map((r) => r.cpuUsPerJob));
      const main = summarize(ok.map((r) => r.mainUsPerJob));
      (med[kind.id] ??= {})[variant.id] = { rate: rate.median, rss: rss.median };
      const notes = [];
      const mlw = Math.max(0, ...ok.map((r) => r.maxListenerWarnings));
      if (mlw > 0) notes.push(`${mlw} MaxListenersExceededWarning`);
      if (ok[0]?.threads) notes.push(`${ok[0].threads} pool threads`);
      console.log(
        `  ${variant.label.padEnd(34)} ${fmt(rate.median).padStart(8)} ${`(${fmt(rate.min)}–${fmt(rate.max)})`.padStart(17)} ${`${rss.median.toFixed(0)} MB`.padStart(9)} ${`${cpu.median.toFixed(0)} µs`.padStart(9)} ${`${main.median.toFixed(0)} µs`.padStart(9)}  ${notes.join(', ')}`,
      );
    }
  }
  // A goal is printed only when the run measured both of its sides (see --variants).
  const goal = (kind, a, b, min, text) => {
    const x = med[kind]?.[a];
    const y = med[kind]?.[b];
    if (x === undefined || y === undefined || Number.isNaN(x.rate) || Number.isNaN(y.rate)) return;
    const r = text.startsWith('RSS') ? x.rss / y.rss : x.rate / y.rate;
    const ok = text.startsWith('RSS') ? r <= min : r >= min;
    console.log(`  ${ok ? '✓' : '✗'} ${kind}: ${text}: ${ratio(r)}`);
  };
  console.log('\ngoals (checked, not asserted):');
  goal('tiny', 'pool', 'inline', 0.9, '(c) ≥ 0.9 × (a)');
  goal('tiny', 'pool-nc', 'inline', 0.9, "(c') ≥ 0.9 × (a), for reference");
  goal('tiny', 'pool', 'sandbox', 5, '(c) ≥ 5 × (b)');
  goal('cpu', 'pool', 'inline', 1.5, `(c) ≥ 1.5 × (a) (on ${os.availableParallelism()} cores)`);
  goal('tiny', 'pool', 'sandbox', 0.25, 'RSS (c) ≤ ¼ (b)');
  goal('cpu', 'pool', 'sandbox', 0.25, 'RSS (c) ≤ ¼ (b)');
  process.exit(failures === 0 ? 0 : 1);
}
