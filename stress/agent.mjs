// A worker thread of the stress scenarios, playing one role on a port.
//
// Packets carry (bytesTransferred = key & 0xffff, completionKey = key,
// overlapped = producer index): a consumer checks the first against the
// second (a torn or mixed-up packet) and the order of each producer's keys.
// `seen` counts deliveries per key; `posted` marks the keys whose post()
// returned true. Producers write the next key they will try into
// control[C_CURSOR + index] before each post, so a replacement of a killed
// producer starts after the key whose post may or may not have happened.
import { parentPort, threadId, workerData } from 'node:worker_threads';

const { role, libUrl, handle, index = 0, seed = 1 } = workerData;
const { CompletionPort, PortClosedError } = await import(libUrl);
const C_DONE = 0;
const C_STOP = 1;
const C_CURSOR = 16;
const control = new Int32Array(workerData.control);
const port = CompletionPort.from(handle);
const nap = new Int32Array(new SharedArrayBuffer(4));

let state = seed >>> 0;
function rand() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const roles = {
  /**
   * Posts keys from..to (or from the cursor, for a replacement) until done,
   * stopped, or the port closes. On a full port it retries, and after a few
   * tries naps 50 µs, so spinning producers do not starve the consumers of
   * the 2 cores.
   */
  producer() {
    const posted = workerData.posted ? new Uint8Array(workerData.posted) : null;
    const to = workerData.to;
    let key = Math.max(workerData.from, Atomics.load(control, C_CURSOR + index));
    let full = 0;
    try {
      for (; key < to; key++) {
        Atomics.store(control, C_CURSOR + index, key + 1);
        for (let tries = 0; !port.post(key & 0xffff, key, index); tries++) {
          full++;
          if (Atomics.load(control, C_STOP) !== 0) return { full, stopped: key };
          if (tries > 16) Atomics.wait(nap, 0, 0, 0.05);
        }
        if (posted) posted[key] = 1;
        if (Atomics.load(control, C_STOP) !== 0) return { full, stopped: key + 1 };
      }
    } catch (error) {
      if (!(error instanceof PortClosedError)) throw error;
      return { full, closedAt: key };
    }
    return { full };
  },

  /**
   * Consumes until the port closes, with get, getMany, getAsync or a seeded
   * mix of the three (and of timeouts). Records each key in `seen` as soon
   * as the call returns.
   */
  async consumer() {
    const seen = new Uint8Array(workerData.seen);
    // Who took each key (threadId + 1), written before `seen`: a death between the two leaves the key
    // taken by this thread and not yet counted, as a death right after the take does.
    const seenBy = workerData.seenBy ? new Int32Array(workerData.seenBy) : null;
    const me = threadId + 1;
    const mode = workerData.mode ?? 'get';
    const last = new Map();
    let outOfOrder = 0;
    let corrupt = 0;
    let count = 0;
    const take = (p) => {
      if (seenBy !== null) Atomics.store(seenBy, p.completionKey, me);
      Atomics.add(seen, p.completionKey, 1);
      if (p.bytesTransferred !== (p.completionKey & 0xffff)) corrupt++;
      const before = last.get(p.overlapped) ?? -1;
      if (p.completionKey <= before) outOfOrder++;
      last.set(p.overlapped, p.completionKey);
      count++;
    };
    try {
      for (;;) {
        const m = mode === 'mixed' ? (rand() < 0.5 ? 'get' : rand() < 0.5 ? 'getMany' : 'getAsync') : mode;
        const timeout = mode === 'mixed' && rand() < 0.3 ? rand() * 2 : undefined;
        if (m === 'getMany') {
          const packets = port.getMany(1 + Math.floor(rand() * 8), timeout);
          for (const p of packets) take(p);
          Atomics.add(control, C_DONE, packets.length);
        } else {
          const p = m === 'getAsync' ? await port.getAsync(timeout) : port.get(timeout);
          if (p === null) continue;
          take(p);
          Atomics.add(control, C_DONE, 1);
        }
      }
    } catch (error) {
      if (!(error instanceof PortClosedError)) throw error;
    }
    return { count, outOfOrder, corrupt };
  },
};

const fn = roles[role];
if (!fn) throw new Error(`stress agent: unknown role ${role}`);
// After the module has evaluated (terminating a worker inside a module's top-level await can crash Node 20).
setImmediate(async () => parentPort.postMessage(await fn()));
