/**
 * Does the shared heap give memory back, and does a long churn stay bounded?
 * `node bench/heap-memory.mjs [--quick]` (tsx loads the sources).
 *
 *  1. grow:   the main thread fills `GROW` MiB of 64 KB blocks; RSS.
 *  2. return: frees them, trim() (retire), a release round; RSS.
 *  3. churn:  2 worker threads allocate and free blocks of mixed sizes
 *             (64 B … 1 MiB, log-uniform, up to 32 held each) while the main
 *             thread trims every 100 ms (retireAfterMs 1000, so a segment
 *             idle for a second goes); RSS and heap bytes sampled: peak.
 *  4. idle:   churn over, a trim after retireAfterMs, then a release round
 *             (every thread drops what was retired and collects); RSS.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { SharedHeap } = await import('../src/heap/heap.ts');

const MiB = 1024 * 1024;
const quick = process.argv.includes('--quick');
const rss = () => process.memoryUsage().rss / MiB;

if (!isMainThread) {
  const heap = SharedHeap.attach(workerData.handle);
  heap.adopt(workerData.grants);
  parentPort.on('message', (m) => {
    if (m === 'release') {
      heap.collect().then((held) => parentPort.postMessage(held));
      return;
    }
    let x = m.seed | 1;
    const random = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 4294967296;
    };
    const held = [];
    let full = 0;
    for (let r = 0; r < m.rounds; r++) {
      if (held.length >= 32 || (held.length > 0 && random() < 0.5)) {
        const i = Math.floor(random() * held.length);
        const b = held[i];
        held[i] = held[held.length - 1];
        held.pop();
        heap.freeRaw(b.seg, b.off);
        continue;
      }
      const n = Math.floor(64 * 2 ** (random() * 14)); // 64 B … 1 MiB
      const off = heap.allocRaw(n);
      if (off < 0) {
        full++;
        continue;
      }
      const seg = heap.lastSegment;
      seg.u8.fill(1, off, off + n); // touch it: resident
      held.push({ seg: seg.segWord, off });
    }
    for (const b of held) heap.freeRaw(b.seg, b.off);
    heap.sync();
    parentPort.postMessage({ full });
  });
} else {
  // Lets the collections a release round asks for free their memory (it goes on the event loop).
  const settle = () => new Promise((r) => setTimeout(r, 500));
  const GROW = quick ? 64 : 192;
  const maxBytes = 256 * MiB;
  const heap = SharedHeap.create({ maxBytes, floorBytes: 0, retireAfterMs: 1000 });
  // collect() waits on unref'd timers (a pool never keeps a process alive): keep this one alive.
  const alive = setInterval(() => {}, 1000);
  await settle();
  const base = rss();
  console.log(`baseline                         RSS ${base.toFixed(0)} MiB`);

  const views = [];
  for (let i = 0; i < (GROW * MiB) / (64 * 1024); i++) views.push(heap.alloc(64 * 1024).fill(1));
  console.log(`1. grown to ${GROW} MiB of blocks      RSS ${rss().toFixed(0)} MiB, heap ${(heap.stats().bytes / MiB).toFixed(0)} MiB`);
  for (const v of views) heap.free(v);
  views.length = 0;
  heap.trim(true);
  const token = heap.beginRelease();
  heap.endRelease(token, await heap.collect());
  await settle();
  console.log(`2. freed, trimmed, collected     RSS ${rss().toFixed(0)} MiB, heap ${(heap.stats().bytes / MiB).toFixed(0)} MiB`);

  const workers = [0, 1].map(() => new Worker(new URL(import.meta.url), { workerData: { handle: heap.handle, grants: heap.grants() } }));
  const ask = (w, m) =>
    new Promise((resolve) => {
      w.once('message', resolve);
      w.postMessage(m);
    });
  await Promise.all(workers.map((w) => ask(w, 'release'))); // both started and attached
  await settle();
  console.log(`   2 worker threads started        RSS ${rss().toFixed(0)} MiB`);
  let peakRss = 0;
  let peakHeap = 0;
  let trimming = true;
  // The main thread's part as a pool keeps it: trims, and a release round whenever something was retired.
  const round = async () => {
    const token = heap.beginRelease();
    const held = (await Promise.all([heap.collect(), ...workers.map((w) => ask(w, 'release'))])).flat();
    heap.endRelease(token, held);
  };
  let releasing; // the round in progress, if any: one at a time
  const sampler = (async () => {
    while (trimming) {
      heap.trim();
      if (heap.releasePending && releasing === undefined) releasing = round().finally(() => (releasing = undefined));
      peakRss = Math.max(peakRss, rss());
      peakHeap = Math.max(peakHeap, heap.stats().bytes / MiB);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const control = new Int32Array(heap.control);
  const epoch0 = Atomics.load(control, 7); // H_EPOCH: +1 per segment published or retired
  const t0 = performance.now();
  const rounds = quick ? 100_000 : 1_000_000;
  const res = await Promise.all(workers.map((w, i) => ask(w, { rounds, seed: 7 + i })));
  const secs = (performance.now() - t0) / 1000;
  trimming = false;
  await sampler;
  await releasing;
  console.log(
    `3. churn: 2 threads × ${rounds.toLocaleString('en-US')} ops in ${secs.toFixed(1)} s (heap full ${res.map((r) => r.full).join('/')} times, ${Atomics.load(control, 7) - epoch0} segment publications + retirements): peak RSS ${peakRss.toFixed(0)} MiB, peak heap ${peakHeap.toFixed(0)} MiB (bound ${maxBytes / MiB})`,
  );
  console.log(`   after the churn                RSS ${rss().toFixed(0)} MiB, heap ${(heap.stats().bytes / MiB).toFixed(0)} MiB`);
  heap.trim();
  await new Promise((r) => setTimeout(r, 1100));
  heap.trim();
  await round();
  await settle();
  console.log(
    `4. idle: trimmed, synced, collected RSS ${rss().toFixed(0)} MiB, heap ${(heap.stats().bytes / MiB).toFixed(0)} MiB, blocks ${heap.stats().blocks}`,
  );
  await Promise.all(workers.map((w) => w.terminate()));
  heap.close();
  clearInterval(alive);
}
