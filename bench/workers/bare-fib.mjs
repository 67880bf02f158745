// Scenario 5's ceiling: compute `count` × fib(n) when told to, with no pool.
import { parentPort, workerData } from 'node:worker_threads';
import { fib } from './tasks.mjs';

const { n, count } = workerData;
for (let i = 0; i < 4; i++) fib(n);
parentPort.postMessage('warm');
parentPort.once('message', () => {
  let last = 0;
  for (let i = 0; i < count; i++) last = fib(n);
  parentPort.postMessage(last);
});
