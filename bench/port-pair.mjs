// The port's single-thread hot path: one post() then one get() on the same
// thread, PAIRS times a round. After the first get() the thread holds a
// running slot, so every later get() takes the next packet without the lock
// and no post() finds a waiter: what is timed is the ring's claim, publish,
// take and free, and the argument checks around them.
//
//   node bench/port-pair.mjs [--pairs 5000000] [--rounds 7]
//
// Prints ns per pair for each round and their median (after `npm run build`).
import { CompletionPort } from '../dist/index.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const pairs = arg('pairs', 5_000_000);
const rounds = arg('rounds', 7);

const port = new CompletionPort({ concurrency: 1, capacity: 1024 });
const perPair = [];
let check = 0;
for (let r = 0; r < rounds; r++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < pairs; i++) {
    port.post(1, i, 0);
    check += port.get().completionKey;
  }
  perPair.push(Number(process.hrtime.bigint() - t0) / pairs);
}
port.close();
// Every key came back exactly once per round: the sum says so.
if (check !== (rounds * pairs * (pairs - 1)) / 2) throw new Error(`lost or duplicated packets: key sum ${check}`);
const sorted = [...perPair].sort((a, b) => a - b);
console.log(
  `post+get pair, one thread, ${pairs.toLocaleString('en')} pairs × ${rounds} rounds: ` +
    `median ${sorted[sorted.length >> 1].toFixed(1)} ns/pair (rounds: ${perPair.map((x) => x.toFixed(1)).join(', ')})`,
);
