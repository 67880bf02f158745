/**
 * Microbenchmarks of the shared heap and its codec: the floor a task pays
 * for its payload, on each side. `node bench/heap-micro.mjs [--quick]`
 * (loads the TypeScript sources through tsx: no build needed).
 *
 *  alloc/free   ns per allocRaw + freeRaw pair: one thread; two threads on
 *               the same size class at once; and the pool's pattern, one
 *               thread allocating and the other freeing (refs handed over
 *               through a shared ring).
 *  codec        µs per encode + decode of the payloads of the pool's payload
 *               benchmark, with each serialization, next to v8.serialize +
 *               v8.deserialize and JSON.stringify + JSON.parse alone.
 *  growth       µs to create + post a segment, and to adopt one from the
 *               channel; growing a growable SharedArrayBuffer, for comparison.
 *
 * Every figure is the median of `reps` timed runs after a warm-up.
 */
import { deserialize, serialize } from 'node:v8';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';
import { bytes, smallObjects, string10k } from './lib/payloads.mjs';

register();
const { SharedHeap } = await import('../src/heap/heap.ts');
const { SlotCodec } = await import('../src/codec/slot-codec.ts');
const { arenaGeometry, slotWord } = await import('../src/pool/layout.ts');

const quick = process.argv.includes('--quick');
const REPS = quick ? 3 : 11;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * Median ns per call of each case's fn(), the cases interleaved: every round
 * runs each case once (n calls), so a slow spell of this shared machine
 * hits them all alike.
 */
function timeAll(cases, reps = REPS) {
  for (const c of cases) for (let i = 0; i < Math.max(20, c.n >> 2); i++) c.fn();
  const out = cases.map(() => []);
  for (let r = 0; r < reps; r++) {
    cases.forEach((c, k) => {
      const t = process.hrtime.bigint();
      for (let i = 0; i < c.n; i++) c.fn();
      out[k].push(Number(process.hrtime.bigint() - t) / c.n);
    });
  }
  return out.map(median);
}

// ───────────────────────────── the 2-thread runs ─────────────────────────────
//  same-class: both threads allocate 16 blocks of one class and free them, at once.
//  cross:      the pool's pattern without a hand-off: the worker frees n blocks the
//              main thread allocated beforehand while the main thread allocates n
//              new ones of the same class (the same segments' words, both ways).
if (!isMainThread) {
  const { handle, mode, go, n, size, refs } = workerData;
  const heap = SharedHeap.attach(handle);
  const gate = new Int32Array(go);
  parentPort.postMessage('ready');
  Atomics.wait(gate, 0, 0);
  const t = process.hrtime.bigint();
  if (mode === 'same-class') churn16(heap, n, size);
  else {
    const r = new Int32Array(refs);
    for (let i = 0; i < n; i++) heap.freeRaw(r[2 * i], r[2 * i + 1]);
  }
  parentPort.postMessage(Number(process.hrtime.bigint() - t) / n);
  heap.close();
} else {
  await main();
}

function churn16(heap, n, size) {
  const offs = new Array(16);
  const segs = new Array(16);
  for (let i = 0; i < n; i += 16) {
    for (let k = 0; k < 16; k++) {
      offs[k] = heap.allocRaw(size);
      segs[k] = heap.lastSegment.segWord;
    }
    for (let k = 0; k < 16; k++) heap.freeRaw(segs[k], offs[k]);
  }
}

async function twoThreads(mode, size, n) {
  const heap = SharedHeap.create({ maxBytes: 1 << 30 });
  const go = new SharedArrayBuffer(4);
  const refs = new SharedArrayBuffer(mode === 'cross' ? 8 * n : 4);
  const r = new Int32Array(refs);
  if (mode === 'cross') {
    for (let i = 0; i < n; i++) {
      r[2 * i + 1] = heap.allocRaw(size);
      r[2 * i] = heap.lastSegment.segWord;
    }
  }
  const worker = new Worker(new URL(import.meta.url), { workerData: { handle: heap.handle, mode, go, n, size, refs } });
  await new Promise((resolve) => worker.once('message', resolve));
  const done = new Promise((resolve) => worker.once('message', resolve));
  Atomics.store(new Int32Array(go), 0, 1);
  Atomics.notify(new Int32Array(go), 0);
  const t = process.hrtime.bigint();
  if (mode === 'same-class') churn16(heap, n, size);
  else for (let i = 0; i < n; i++) heap.allocRaw(size);
  const mainNs = Number(process.hrtime.bigint() - t) / n;
  const workerNs = await done;
  await worker.terminate();
  heap.close();
  return { mainNs, workerNs };
}

async function main() {
  const row = (group, what, value, unit) =>
    console.log(`${group.padEnd(11)} ${what.padEnd(62)} ${value.toFixed(unit === 'ns' ? 0 : 2).padStart(9)} ${unit}`);
  const heap = SharedHeap.create();

  // ── alloc/free, one thread ──
  {
    const sizes = [64, 1024, 65536];
    const offs = new Array(16);
    const segs = new Array(16);
    const cases = sizes.map((size) => ({
      n: quick ? 2_000 : 20_000,
      fn: () => {
        for (let k = 0; k < 16; k++) {
          offs[k] = heap.allocRaw(size);
          segs[k] = heap.lastSegment.segWord;
        }
        for (let k = 0; k < 16; k++) heap.freeRaw(segs[k], offs[k]);
      },
    }));
    cases.push({ n: quick ? 20_000 : 200_000, fn: () => heap.free(heap.alloc(1024)) });
    const ns = timeAll(cases);
    for (const [i, size] of sizes.entries()) row('alloc/free', `1 thread, ${size} B: allocRaw + freeRaw (16 held)`, ns[i] / 16, 'ns');
    row('alloc/free', '1 thread, 1 KB: alloc() + free(view), the public API', ns[3], 'ns');
  }

  // ── alloc/free, two threads ──
  const n2 = quick ? 100_000 : 1_000_000;
  for (let rep = 0; rep < (quick ? 1 : 3); rep++) {
    const same = await twoThreads('same-class', 1024, n2);
    row('alloc/free', `2 threads, 1 KB, both alloc+free at once: main / worker (run ${rep + 1})`, same.mainNs, 'ns');
    row('alloc/free', '', same.workerNs, 'ns');
    const cross = await twoThreads('cross', 256, quick ? 50_000 : 200_000);
    row('alloc/free', `2 threads, 256 B, main allocs while worker frees: alloc / free`, cross.mainNs, 'ns');
    row('alloc/free', '', cross.workerNs, 'ns');
  }

  // ── codec: encode + decode in one thread (both sides' CPU), interleaved ──
  const g = arenaGeometry(1, 256);
  const arena = new SharedArrayBuffer(g.byteLength);
  const codecs = { structured: new SlotCodec(arena, 1, g.slotBytes, heap, 'structured'), json: new SlotCodec(arena, 1, g.slotBytes, heap, 'json') };
  const w = slotWord(g.slotBytes, 0);
  const objects = smallObjects();
  const payloads = [
    ['16 small objects', objects, quick ? 500 : 5_000],
    ['10 KB string', string10k(), quick ? 1_000 : 10_000],
    ['64 KB Uint8Array', bytes(64 * 1024), quick ? 200 : 2_000],
    ['1 MB Uint8Array', bytes(1024 * 1024), quick ? 20 : 200],
  ];
  for (const [name, value, n] of payloads) {
    const cases = [
      { label: 'v8.serialize + v8.deserialize', n, fn: () => deserialize(serialize(value)) },
      ...(ArrayBuffer.isView(value) ? [] : [{ label: 'JSON.stringify + JSON.parse', n, fn: () => JSON.parse(JSON.stringify(value)) }]),
      ...Object.entries(codecs).map(([mode, codec]) => ({
        label: `heap '${mode}': encode + decode`,
        n,
        fn: () => {
          codec.encode(w, value);
          return codec.decode(w);
        },
      })),
      { label: "heap 'structured': encode only", n, fn: () => codecs.structured.encode(w, value), after: () => codecs.structured.decode(w) },
    ];
    // encode-only: each call is followed by an untimed decode that frees the block
    const encodeOnly = cases[cases.length - 1];
    const plainFn = encodeOnly.fn;
    encodeOnly.fn = () => {
      const t = process.hrtime.bigint();
      plainFn();
      encodeOnly.ns += Number(process.hrtime.bigint() - t);
      encodeOnly.after();
    };
    encodeOnly.ns = 0;
    const ns = timeAll(cases.slice(0, -1));
    for (const [i, c] of cases.slice(0, -1).entries()) row('codec', `${name}: ${c.label}`, ns[i] / 1000, 'µs');
    const samples = [];
    for (let r = 0; r < REPS; r++) {
      encodeOnly.ns = 0;
      for (let i = 0; i < n; i++) encodeOnly.fn();
      samples.push(encodeOnly.ns / n);
    }
    row('codec', `${name}: heap 'structured': encode only`, median(samples) / 1000, 'µs');
  }
  const shared = heap.alloc(64 * 1024);
  {
    const ns = timeAll([
      {
        n: quick ? 10_000 : 100_000,
        fn: () => {
          codecs.structured.encode(w, shared);
          return codecs.structured.decode(w);
        },
      },
      {
        n: quick ? 2_000 : 20_000,
        fn: () => {
          codecs.structured.encode(w, { data: shared });
          return codecs.structured.decode(w);
        },
      },
    ]);
    row('codec', '64 KB alloc()ed view by reference: encode + decode', ns[0] / 1000, 'µs');
    row('codec', '{ data: 64 KB alloc()ed view }: encode + decode', ns[1] / 1000, 'µs');
  }
  heap.free(shared);

  // ── growth ──
  const gn = quick ? 20 : 100;
  const creator = SharedHeap.create({ floorBytes: 0 });
  const reader = SharedHeap.attach(creator.handle);
  const grows = [];
  const adopts = [];
  for (let i = 0; i < gn; i++) {
    let t = process.hrtime.bigint();
    const v = creator.alloc(64 * 1024); // a new 1 MB segment each time (the previous one was retired)
    grows.push(Number(process.hrtime.bigint() - t));
    t = process.hrtime.bigint();
    reader.sync();
    adopts.push(Number(process.hrtime.bigint() - t));
    creator.free(v);
    creator.trim(true);
    reader.sync();
  }
  row('growth', 'new 1 MB segment: create + post + publish (+ first alloc)', median(grows) / 1000, 'µs');
  row('growth', 'another thread adopts it (receiveMessageOnPort + checks)', median(adopts) / 1000, 'µs');
  const gsab = [];
  for (let i = 0; i < gn; i++) {
    const b = new SharedArrayBuffer(1 << 20, { maxByteLength: 64 << 20 });
    const t = process.hrtime.bigint();
    b.grow(2 << 20);
    gsab.push(Number(process.hrtime.bigint() - t));
  }
  row('growth', 'growable SharedArrayBuffer.grow(+1 MB), for comparison', median(gsab) / 1000, 'µs');
  creator.close();
  reader.close();
  heap.close();
}
