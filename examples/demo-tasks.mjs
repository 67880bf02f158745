// The demo's worker module (npm start, examples/demo.mjs): every pool thread loads it, and so do
// the plain postMessage workers the demo compares the pool with. Each function export is a handler.
import { threadId } from 'node:worker_threads';

/** A tiny task: what the pool itself costs per task is all there is to measure. */
export default function inc(x) {
  return x + 1;
}

/** CPU work: the n-th Fibonacci number, computed the slow way, and which thread computed it. */
export function fib(n) {
  const started = performance.now();
  const slow = (k) => (k < 2 ? k : slow(k - 1) + slow(k - 2));
  return { n, value: slow(n), threadId, ms: performance.now() - started };
}

/** A task that reports progress: steps of `ms` milliseconds each. */
export async function steps({ count, ms }, { progress }) {
  for (let i = 1; i <= count; i++) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    progress(i);
  }
  return count;
}
