/**
 * The machine's primitives, measured the same way as the pools: the ceiling.
 *
 *   pingpong  round trip main thread ↔ one worker, one message at a time:
 *             MessagePort, Atomics.wait/notify, spin-only (both sides spin),
 *             and iocp-pool's CompletionPort (post on one port, get the answer
 *             from another) for comparison.
 *   (the one-by-one SPSC ring is in scenarios/port.mjs, beside the port it bounds)
 */
import { Worker } from 'node:worker_threads';
import { CompletionPort } from '../../dist/index.js';
import { startWorker } from '../lib/threads.mjs';
import { latencySummary } from '../lib/stats.mjs';

const WORKER = new URL('../workers/primitive.mjs', import.meta.url);
const PORT_WORKER = new URL('../workers/port.mjs', import.meta.url);
const PING = 0;
const PONG = 16;
const now = process.hrtime.bigint;

async function msgport(n) {
  const w = await new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { workerData: { role: 'echo-msgport' } });
    w.once('online', () => resolve(w));
    w.once('error', reject);
  });
  const lat = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = now();
    await new Promise((r) => {
      w.once('message', r);
      w.postMessage(i);
    });
    lat[i] = Number(now() - t);
  }
  w.postMessage(-1);
  return lat;
}

async function shared(role, n) {
  const sab = new SharedArrayBuffer(128 * 4);
  const i32 = new Int32Array(sab);
  const w = await startWorker(WORKER, { role, sab });
  const spin = role === 'echo-spin';
  const lat = new Float64Array(n);
  for (let i = 1; i <= n; i++) {
    const t = now();
    Atomics.store(i32, PING, i);
    if (!spin) Atomics.notify(i32, PING, 1);
    if (spin) {
      while (Atomics.load(i32, PONG) !== i);
    } else {
      let v;
      while ((v = Atomics.load(i32, PONG)) !== i) Atomics.wait(i32, PONG, v);
    }
    lat[i - 1] = Number(now() - t);
  }
  Atomics.store(i32, PING, -1);
  Atomics.notify(i32, PING, 1);
  await new Promise((r) => w.once('exit', r));
  return lat;
}

async function portPingPong(n) {
  const a = new CompletionPort({ concurrency: 1 });
  const b = new CompletionPort({ concurrency: 1 });
  const w = await startWorker(PORT_WORKER, { role: 'echo', handle: a.handle, back: b.handle });
  const lat = new Float64Array(n);
  for (let i = 1; i <= n; i++) {
    const t = now();
    a.post(1, 1, i);
    const p = b.get();
    lat[i - 1] = Number(now() - t);
    if (p.overlapped !== i) throw new Error(`port ping-pong got ${p.overlapped}, expected ${i}`);
  }
  a.post(0, 0, 0);
  await new Promise((r) => w.once('exit', r));
  return lat;
}

export default {
  id: 'primitives',
  cases: ({ quick }) => [
    {
      id: 'pingpong',
      title: 'Primitives: ping-pong round trip, main thread ↔ 1 worker',
      note: `${quick ? '5,000' : '50,000'} round trips after ${quick ? '1,000' : '5,000'} warm-up; per-trip time with process.hrtime. The main thread blocks in the shared-memory variants.`,
      subjects: [
        { id: 'msgport', label: 'MessagePort', kind: 'primitive' },
        { id: 'atomics', label: 'Atomics.wait/notify', kind: 'primitive' },
        { id: 'spin', label: 'spin-only', kind: 'primitive' },
        { id: 'iocp-port', label: 'iocp-pool port (post/get)', kind: 'iocp' },
      ],
      compareTo: 'primitive',
      metrics: [
        { key: 'p50', label: 'round trip p50', unit: 'µs', better: 'lower' },
        { key: 'p99', label: 'round trip p99', unit: 'µs', better: 'lower' },
      ],
      params: { n: quick ? 5_000 : 50_000, warm: quick ? 1_000 : 5_000 },
    },
  ],

  async measure(_caseId, subject, { n, warm }) {
    const run = {
      msgport: (k) => msgport(k),
      atomics: (k) => shared('echo-atomics', k),
      spin: (k) => shared('echo-spin', k),
      'iocp-port': (k) => portPingPong(k),
    }[subject];
    // One session: the first `warm` trips warm both threads' JIT and are dropped.
    const lat = await run(warm + n);
    const s = latencySummary(lat.subarray(warm));
    return { p50: s.p50, p99: s.p99, info: s };
  },
};
