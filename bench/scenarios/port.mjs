/**
 * Scenario (1): CompletionPort throughput with numeric packets, every party a
 * worker thread (the main thread only starts them and waits):
 *
 *   port-1to1  one by one, 1 producer → 1 consumer: port get() vs the
 *              one-by-one SPSC ring in shared memory (the ceiling; target
 *              ≥ 50 %), plus getMany(64) and a batched ring for reference.
 *   port-1to2  1 producer → 2 consumers, get() and getMany(64).
 *   port-2to2  2 producers → 2 consumers, get() and getMany(64).
 *
 * Rate = packets / (time from the start signal to the last consumer taking
 * its stop packet). Every consumer sums what it took; the sums are checked.
 */
import { CompletionPort } from '../../dist/index.js';
import { standaloneRing } from '../../dist/internal/ring.js';
import { doneOf, startWorker } from '../lib/threads.mjs';

const PORT_WORKER = new URL('../workers/port.mjs', import.meta.url);
const PRIM_WORKER = new URL('../workers/primitive.mjs', import.meta.url);
const CAPACITY = 1024;
const now = process.hrtime.bigint;
const rate = [{ key: 'rate', label: 'throughput', unit: 'packets/s', better: 'higher' }];

async function portRun({ producers, consumers, batch, n }) {
  const port = new CompletionPort({ capacity: CAPACITY });
  const start = new SharedArrayBuffer(8);
  const workers = [];
  const per = Math.ceil(n / producers);
  for (let c = 0; c < consumers; c++) {
    workers.push(await startWorker(PORT_WORKER, { role: 'consumer', handle: port.handle, start, batch }));
  }
  const cons = workers.map(doneOf);
  for (let p = 0; p < producers; p++) {
    const from = p * per;
    const to = Math.min(n, from + per);
    workers.push(await startWorker(PORT_WORKER, { role: 'producer', handle: port.handle, start, from, to, producers, consumers }));
  }
  const prods = workers.slice(consumers).map(doneOf);
  const s32 = new Int32Array(start);
  const t0 = now();
  Atomics.store(s32, 0, 1);
  Atomics.notify(s32, 0);
  const results = await Promise.all(cons);
  await Promise.all(prods);
  // biome-ignore lint/complexity/useMathMinMax: t1 is a BigInt (process.hrtime.bigint()), which Math.max rejects.
  const t1 = results.reduce((m, r) => (r.t1 > m ? r.t1 : m), 0n);
  const count = results.reduce((a, r) => a + r.count, 0);
  const sum = results.reduce((a, r) => a + r.sum, 0);
  await Promise.all(workers.map((w) => w.terminate()));
  if (count !== n || sum !== (n * (n - 1)) / 2) throw new Error(`port lost or duplicated packets: ${count} of ${n}`);
  const ms = Number(t1 - t0) / 1e6;
  return { rate: (n / ms) * 1000, info: { ms, perConsumer: results.map((r) => r.count) } };
}

async function ringRun({ batch, n, strict = false, mpmc = false }) {
  const HDR = 80;
  // MPMC: the port's own RING type (src/port/portable/ring.ts), alone in a buffer of its own.
  const ring = mpmc ? standaloneRing(CAPACITY) : undefined;
  // Header (the start word) and the SPSC rings' packets.
  const sab = new SharedArrayBuffer(HDR * 4 + CAPACITY * 3 * 8);
  const i32 = new Int32Array(sab);
  const data = { sab, n, cap: CAPACITY, batch, strict, mpmc, ring };
  const consumer = await startWorker(PRIM_WORKER, { role: 'ring-consumer', ...data });
  const producer = await startWorker(PRIM_WORKER, { role: 'ring-producer', ...data });
  const done = doneOf(consumer);
  const t0 = now();
  Atomics.store(i32, 64, 1);
  Atomics.notify(i32, 64);
  const { t1 } = await done;
  await Promise.all([consumer.terminate(), producer.terminate()]);
  const ms = Number(t1 - t0) / 1e6;
  return { rate: (n / ms) * 1000, info: { ms } };
}

const portSubjects = [
  { id: 'get', label: 'iocp-pool port, get()', kind: 'iocp' },
  { id: 'getMany', label: 'iocp-pool port, getMany(64)', kind: 'iocp' },
];

export default {
  id: 'port',
  cases: ({ quick }) => {
    const n = quick ? 100_000 : 2_000_000;
    const ringN = quick ? 1_000_000 : 20_000_000;
    const params = { n, ringN };
    return [
      {
        id: 'port-1to1',
        title: '(1a) Port handoff one by one, 1 producer → 1 consumer thread',
        note: `Capacity ${CAPACITY} for port and ring alike. Port: ${n.toLocaleString('en-US')} packets; ring: ${ringN.toLocaleString('en-US')} items. The SPSC ring carries the same 3-number packets and publishes every item with its own store (batched: up to 64 per store): the ceiling. The one-by-one ring caches the other side's index and re-reads it only when the ring looks full or empty; the strict ring re-reads it for every item, the textbook ring, ≈ 5 M/s in the budgets of docs/design.md. The MPMC ring is Vyukov's bounded queue, the one under the port, bare: any queue that many threads may post to and take from pays a CAS to claim and a store to publish or free every item, twice the atomic read-modify-writes of an SPSC ring, so it bounds what a port can reach one by one.`,
        subjects: [
          portSubjects[0],
          { id: 'ring', label: 'SPSC ring, one by one', kind: 'primitive' },
          { id: 'ring-strict', label: 'SPSC ring, one by one, indices re-read per item', kind: 'primitive' },
          { id: 'ring-mpmc', label: 'MPMC ring (Vyukov), one by one', kind: 'primitive' },
          portSubjects[1],
          { id: 'ring-batch', label: 'SPSC ring, batches ≤ 64', kind: 'primitive' },
        ],
        compareTo: 'primitive',
        compareWith: ['ring'],
        metrics: rate,
        params: { ...params, producers: 1, consumers: 1 },
        targets: [
          { metric: 'rate', subject: 'get', label: 'Port handoff one by one ≥ 50 % of the one-by-one ring', ratioAtLeast: 0.5 },
          {
            metric: 'rate',
            subject: 'get',
            against: 'ring-strict',
            label: "Port handoff one by one ≥ 50 % of the textbook ring (≈ 5 M/s in docs/design.md: each side re-reads the other's index per item)",
            ratioAtLeast: 0.5,
          },
          {
            metric: 'rate',
            subject: 'get',
            against: 'ring-mpmc',
            label: "Port handoff one by one ≥ 50 % of the bare MPMC ring (the port's own queue, without waiters, cap or packet objects)",
            ratioAtLeast: 0.5,
          },
        ],
      },
      {
        id: 'port-1to2',
        title: '(1b) Port throughput, 1 producer → 2 consumer threads',
        note: `${n.toLocaleString('en-US')} numeric packets, capacity ${CAPACITY}.`,
        subjects: portSubjects,
        metrics: rate,
        params: { ...params, producers: 1, consumers: 2 },
      },
      {
        id: 'port-2to2',
        title: '(1c) Port throughput, 2 producers → 2 consumer threads',
        note: `${n.toLocaleString('en-US')} numeric packets, capacity ${CAPACITY}.`,
        subjects: portSubjects,
        metrics: rate,
        params: { ...params, producers: 2, consumers: 2 },
      },
    ];
  },

  async measure(_caseId, subject, { n, ringN, producers, consumers }) {
    if (subject === 'ring') return ringRun({ batch: 1, n: ringN });
    if (subject === 'ring-strict') return ringRun({ batch: 1, n, strict: true });
    if (subject === 'ring-mpmc') return ringRun({ batch: 1, n: ringN, mpmc: true });
    if (subject === 'ring-batch') return ringRun({ batch: 64, n: ringN });
    return portRun({ producers, consumers, batch: subject === 'getMany' ? 64 : 1, n });
  },
};
