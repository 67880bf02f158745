// Port throughput: packets per second from P producer threads to C consumer
// threads (default 1 → 2), one post and one get per packet, every packet
// checked to arrive exactly once. Prints the median and spread of --runs runs.
//
//   node bench/port-rate.mjs [--backend portable|native] [--producers 1] [--consumers 2]
//                            [--packets 2000000] [--runs 5] [--batch 0]
//
// The native backend needs Windows; on Linux run it under Wine with the
// node.exe that scripts/test-windows.sh fetched (its stdout must be a file):
//   WINEPREFIX=$PWD/.cache/windows/prefix WINEDEBUG=-all \
//     /usr/lib/wine/wine64 .cache/windows/node-20/node.exe bench/port-rate.mjs --backend native > out.txt; cat out.txt
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { CompletionPort, PortClosedError } from 'iocp-pool';

if (!isMainThread) {
  const port = CompletionPort.from(workerData.handle);
  const control = new Int32Array(workerData.control);
  if (workerData.role === 'producer') {
    const { from, count } = workerData;
    Atomics.add(control, 1, 1);
    while (Atomics.load(control, 0) === 0) Atomics.wait(control, 0, 0); // start line
    for (let key = from; key < from + count; key++) while (!port.post(0, key, 0));
    parentPort.postMessage('done');
  } else {
    const seen = new Uint8Array(workerData.seen);
    let n = 0;
    try {
      if (workerData.batch > 0) {
        for (;;) {
          const packets = port.getMany(workerData.batch);
          for (const p of packets) seen[p.completionKey]++;
          n += packets.length;
          Atomics.add(control, 2, packets.length);
        }
      } else {
        for (;;) {
          seen[port.get().completionKey]++;
          n++;
          if ((n & 1023) === 0) Atomics.add(control, 2, 1024);
        }
      }
    } catch (error) {
      if (!(error instanceof PortClosedError)) throw error;
    }
    parentPort.postMessage(n);
  }
} else {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i < 0 ? fallback : Number(process.argv[i + 1]);
  };
  const backendIndex = process.argv.indexOf('--backend');
  const backend = backendIndex < 0 ? 'portable' : process.argv[backendIndex + 1];
  const producers = arg('producers', 1);
  const consumers = arg('consumers', 2);
  // Under Wine every native call is a round trip to wineserver (~40 k/s): fewer packets.
  const packets = arg('packets', backend === 'native' ? 20_000 : 2_000_000);
  const runs = arg('runs', 5);
  const batch = arg('batch', 0);
  const rates = [];
  for (let r = 0; r < runs; r++) rates.push(await once());
  rates.sort((a, b) => a - b);
  const median = rates[rates.length >> 1];
  const fmt = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : `${(x / 1e3).toFixed(1)} k/s`);
  console.log(
    `${backend} port post → ${batch > 0 ? `getMany(${batch})` : 'get'}, ${producers} producer → ${consumers} consumer threads, ` +
      `${packets.toLocaleString('en')} packets × ${runs} runs: median ${fmt(median)} (min ${fmt(rates[0])}, max ${fmt(rates.at(-1))})`,
  );

  async function once() {
    const port = new CompletionPort({ concurrency: consumers, capacity: 65536, backend });
    const control = new Int32Array(new SharedArrayBuffer(16));
    const seen = new SharedArrayBuffer(packets);
    const spawn = (data) =>
      new Worker(new URL(import.meta.url), { workerData: { handle: port.handle, control: control.buffer, seen, batch, ...data } });
    const cs = Array.from({ length: consumers }, () => spawn({ role: 'consumer' }));
    const share = Math.floor(packets / producers);
    const ps = Array.from({ length: producers }, (_, i) =>
      spawn({ role: 'producer', from: i * share, count: i === producers - 1 ? packets - i * share : share }),
    );
    while (Atomics.load(control, 1) < producers || port.stats().waiting < consumers) await new Promise((r) => setTimeout(r, 1));
    const t0 = performance.now();
    Atomics.store(control, 0, 1);
    Atomics.notify(control, 0);
    await Promise.all(ps.map((w) => new Promise((r) => w.once('message', r))));
    while (port.stats().queued > 0 || Atomics.load(control, 2) < packets - consumers * 1024) await new Promise((r) => setTimeout(r, 0));
    const t1 = performance.now();
    port.close();
    const counts = await Promise.all(cs.map((w) => new Promise((r) => w.once('message', r))));
    const total = counts.reduce((a, b) => a + b, 0);
    if (total !== packets || new Uint8Array(seen).some((c) => c !== 1)) throw new Error(`lost or duplicated packets: ${total}/${packets}`);
    return packets / ((t1 - t0) / 1000);
  }
}
