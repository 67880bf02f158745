// post → get rate of one backend: 1 producer thread → 2 consumer threads
// (as bench/port-rate.mjs), every packet checked to arrive exactly once.
// Prints the median of --runs runs.
//
//   node bench/native-rate.mjs --backend portable|native [--packets N] [--runs 3] [--consumers 2]
//
// The native backend needs Windows; on Linux run it under Wine with the
// node.exe that scripts/test-windows.sh fetched:
//   WINEPREFIX=$PWD/.cache/windows/prefix WINEDEBUG=-all \
//     wine64 .cache/windows/node-20/node.exe bench/native-rate.mjs --backend native > out.txt; cat out.txt
// (node.exe's stdout must be a file or a pty, not a pipe).
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const lib = await import(new URL('../dist/index.js', import.meta.url).href);
const { CompletionPort, PortClosedError } = lib;

if (!isMainThread) {
  const port = CompletionPort.from(workerData.handle);
  const control = new Int32Array(workerData.control);
  const seen = new Uint8Array(workerData.seen);
  let n = 0;
  try {
    for (;;) {
      seen[port.get().completionKey]++;
      n++;
      Atomics.add(control, 2, 1);
    }
  } catch (error) {
    if (!(error instanceof PortClosedError)) throw error;
  }
  parentPort.postMessage(n);
} else {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i < 0 ? fallback : process.argv[i + 1];
  };
  const backend = arg('backend', 'portable');
  const packets = Number(arg('packets', backend === 'native' ? 20_000 : 1_000_000));
  const runs = Number(arg('runs', 3));
  const consumers = Number(arg('consumers', 2));
  const rates = [];
  for (let r = 0; r < runs; r++) rates.push(await once());
  rates.sort((a, b) => a - b);
  const fmt = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : `${(x / 1e3).toFixed(1)} k/s`);
  console.log(
    `${backend} backend (${process.platform}, node ${process.version}): post → get, 1 producer → ${consumers} consumer threads, ` +
      `${packets.toLocaleString('en')} packets × ${runs} runs: median ${fmt(rates[rates.length >> 1])} ` +
      `(min ${fmt(rates[0])}, max ${fmt(rates.at(-1))})`,
  );

  async function once() {
    const port = new CompletionPort({ backend, concurrency: consumers, capacity: 65536 });
    const control = new Int32Array(new SharedArrayBuffer(16));
    const seen = new SharedArrayBuffer(packets);
    const cs = Array.from(
      { length: consumers },
      () => new Worker(new URL(import.meta.url), { workerData: { handle: port.handle, control: control.buffer, seen } }),
    );
    const exits = cs.map((w) => new Promise((r, j) => (w.once('message', r), w.once('error', j))));
    while (port.stats().waiting < consumers) await new Promise((r) => setTimeout(r, 1));
    // The producer is this (main) thread.
    const t0 = performance.now();
    for (let key = 0; key < packets; key++) while (!port.post(0, key, 0));
    while (Atomics.load(control, 2) < packets) await new Promise((r) => setTimeout(r, 0));
    const t1 = performance.now();
    port.close();
    const total = (await Promise.all(exits)).reduce((a, b) => a + b, 0);
    if (total !== packets || new Uint8Array(seen).some((c) => c !== 1)) throw new Error(`lost or duplicated packets: ${total}/${packets}`);
    return packets / ((t1 - t0) / 1000);
  }
}
