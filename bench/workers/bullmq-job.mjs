// The BullMQ benchmark's job, the same function for every variant: { x } → x + 1, { fib: n } → fib(n).
// The default export is iocp-pool's handler (task = job.data); bullmq-sandbox.mjs wraps it for BullMQ.
import { fib, inc } from './tasks.mjs';

export function work(data) {
  return data.fib === undefined ? inc(data.x) : fib(data.fib);
}
export default work;
