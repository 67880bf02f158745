/**
 * The other side of each primitive (see scenarios/primitives.mjs). Roles:
 *   echo-msgport   echoes every message back on parentPort
 *   echo-atomics   waits (Atomics.wait) for a ping word to change, answers, notifies
 *   echo-spin      spins on the ping word, answers (no wait, no notify)
 *   ring-producer  / ring-consumer: single-producer single-consumer ring in shared memory,
 *                  items of 3 float64 like a completion packet; batch = 1 publishes each item alone;
 *                  strict: re-reads the other side's index per item; mpmc: the port's own
 *                  MPMC ring (Vyukov's), from dist/internal/ring.js
 */
import { parentPort, workerData } from 'node:worker_threads';
import { attachRing } from '../../dist/internal/ring.js';

const { role } = workerData;
const now = process.hrtime.bigint;

/** Layout of the ping-pong words and the ring indices: one 64-byte line each, so the two sides never share a line. */
export const PING = 0;
export const PONG = 16;
export const HEAD = 32;
export const TAIL = 48;
export const START = 64;
export const HDR = 80;

if (role === 'echo-msgport') {
  parentPort.on('message', (m) => {
    if (m === -1) process.exit(0);
    parentPort.postMessage(m);
  });
} else if (role === 'echo-atomics' || role === 'echo-spin') {
  const i32 = new Int32Array(workerData.sab);
  const spin = role === 'echo-spin';
  parentPort.postMessage('ready');
  let seen = 0;
  for (;;) {
    let v;
    if (spin) {
      while ((v = Atomics.load(i32, PING)) === seen);
    } else {
      while ((v = Atomics.load(i32, PING)) === seen) Atomics.wait(i32, PING, seen);
    }
    seen = v;
    if (v === -1) break;
    Atomics.store(i32, PONG, v);
    if (!spin) Atomics.notify(i32, PONG, 1);
  }
  process.exit(0);
} else if (role === 'ring-producer' || role === 'ring-consumer') {
  const { sab, n, cap, batch } = workerData;
  const i32 = new Int32Array(sab);
  // Each item is a packet of 3 numbers, like a completion packet (bytes, key, overlapped).
  const data = new Float64Array(sab, HDR * 4, cap * 3);
  const mask = cap - 1;
  parentPort.postMessage('ready');
  while (Atomics.load(i32, START) === 0) Atomics.wait(i32, START, 0);
  if (workerData.mpmc) {
    // Vyukov's bounded MPMC ring as the port has it (src/port/portable/ring.ts,
    // the same type, alone in a buffer of its own: no waiters, no cap, no
    // packet objects): a CAS claims each position and a CAS of the cell's
    // sequence number publishes (producer) or frees (consumer) it, with the
    // claim recorded around both. Any queue that many threads may post to and
    // take from needs that claim and that publish per item: this is the
    // ceiling of an MPMC one-by-one hand-off.
    const ring = attachRing(workerData.ring);
    const packet = new Float64Array(3);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      if (role === 'ring-producer') {
        while (!ring.post(1, 1, i)); // full: look again
      } else {
        while (!ring.dequeueInto(packet, 0, false)); // empty: look again
        sum += packet[2] * packet[0] * packet[1];
      }
    }
    if (role === 'ring-producer') parentPort.postMessage({ done: true });
    else {
      const t1 = now();
      if (sum !== (n * (n - 1)) / 2) throw new Error(`ring lost items: sum ${sum}`);
      parentPort.postMessage({ done: true, t1 });
    }
  } else if (workerData.strict) {
    // The textbook ring, ≈ 5 M/s in the budgets of docs/design.md: for every item
    // each side reads the other's index and publishes its own — no caching of
    // the other side's index, so every item is a hand-off between the cores.
    let i = 0;
    let sum = 0;
    if (role === 'ring-producer') {
      for (; i < n; i++) {
        while (i - Atomics.load(i32, HEAD) >= cap);
        const f = (i & mask) * 3;
        data[f] = 1;
        data[f + 1] = 1;
        data[f + 2] = i;
        Atomics.store(i32, TAIL, i + 1);
      }
      parentPort.postMessage({ done: true });
    } else {
      for (; i < n; i++) {
        while (Atomics.load(i32, TAIL) <= i);
        const f = (i & mask) * 3;
        sum += data[f + 2] * data[f] * data[f + 1];
        Atomics.store(i32, HEAD, i + 1);
      }
      const t1 = now();
      if (sum !== (n * (n - 1)) / 2) throw new Error(`ring lost items: sum ${sum}`);
      parentPort.postMessage({ done: true, t1 });
    }
  } else if (role === 'ring-producer') {
    // One by one (batch = 1): every item is published with its own store of the tail.
    let tail = 0;
    let head = 0;
    while (tail < n) {
      if (tail - head >= cap) {
        while (tail - (head = Atomics.load(i32, HEAD)) >= cap);
      }
      const end = Math.min(n, tail + batch, head + cap);
      for (let i = tail; i < end; i++) {
        const f = (i & mask) * 3;
        data[f] = 1;
        data[f + 1] = 1;
        data[f + 2] = i;
      }
      tail = end;
      Atomics.store(i32, TAIL, tail);
    }
    parentPort.postMessage({ done: true });
  } else {
    let head = 0;
    let tail = 0;
    let sum = 0;
    while (head < n) {
      if (head === tail) {
        while ((tail = Atomics.load(i32, TAIL)) === head);
      }
      const end = batch === 1 ? head + 1 : tail;
      for (let i = head; i < end; i++) {
        const f = (i & mask) * 3;
        sum += data[f + 2] * data[f] * data[f + 1];
      }
      head = end;
      Atomics.store(i32, HEAD, head);
    }
    const t1 = now();
    if (sum !== (n * (n - 1)) / 2) throw new Error(`ring lost items: sum ${sum}`);
    parentPort.postMessage({ done: true, t1 });
  }
}
