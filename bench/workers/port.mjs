/**
 * A thread on an iocp-pool CompletionPort (see scenarios/port.mjs). Roles:
 *   producer  posts packets (bytes = 1, key = 1, overlapped = i) for i in [from, to), retrying while full;
 *             the last producer to finish posts the stop packets (key 0)
 *   consumer  get() (or getMany(batch)) until it takes a stop packet (key 0); reports its count and sum
 *   echo      ping-pong: takes a packet from port `a`, posts it back on port `b`, until key 0
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CompletionPort } from '../../dist/index.js';

const { role, handle, start } = workerData;
const port = CompletionPort.from(handle);
const startWord = start ? new Int32Array(start) : null;

if (role === 'echo') {
  const back = CompletionPort.from(workerData.back);
  parentPort.postMessage('ready');
  for (;;) {
    const p = port.get();
    if (p.completionKey === 0) break;
    back.post(p.bytesTransferred, 1, p.overlapped);
  }
  process.exit(0);
}

parentPort.postMessage('ready');
while (Atomics.load(startWord, 0) === 0) Atomics.wait(startWord, 0, 0);

if (role === 'producer') {
  const { from, to } = workerData;
  for (let i = from; i < to; i++) {
    while (!port.post(1, 1, i));
  }
  // The last producer to finish posts one stop packet per consumer: FIFO puts them after all the work.
  if (Atomics.add(startWord, 1, 1) + 1 === workerData.producers) {
    for (let c = 0; c < workerData.consumers; c++) while (!port.post(0, 0, 0));
  }
  parentPort.postMessage({ done: true });
} else {
  const batch = workerData.batch;
  let count = 0;
  let sum = 0;
  outer: for (;;) {
    if (batch === 1) {
      const p = port.get();
      if (p.completionKey === 0) break;
      count++;
      sum += p.overlapped;
    } else {
      const ps = port.getMany(batch);
      for (let k = 0; k < ps.length; k++) {
        const p = ps[k];
        if (p.completionKey === 0) {
          // A stop packet is posted only after all work; anything after it in this batch is another consumer's stop.
          for (let j = k + 1; j < ps.length; j++) port.post(0, 0, 0);
          break outer;
        }
        count++;
        sum += p.overlapped;
      }
    }
  }
  parentPort.postMessage({ done: true, count, sum, t1: process.hrtime.bigint() });
}
