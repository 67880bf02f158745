// worker.terminate() at random instants — V8 stops a thread at any
// instruction, even inside a port call — with releaseThread() on each exit,
// as a pool does, and a replacement started. Sometimes two threads are
// terminated at once (one may die holding the lock while the other's death
// is reported first); in every 5th round the port's claim records are all
// taken first, so the threads claim unrecorded and a death costs a ring scan.
//
// What a death may cost (docs/port.md): the post a producer was in may or
// may not have happened (its key is neither required nor forbidden). A
// packet a consumer had taken and not yet recorded is named by
// releaseThread() (lastTaken) — unless the consumer claimed unrecorded (the
// 5th rounds), where it is lost: at most one per killed consumer there (they
// use get and getAsync). Nothing may be delivered twice (a packet named as
// the dead thread's and also delivered to another is a duplicate), no posted
// packet may be lost beyond that, and nothing may hang.
import { C_DONE, C_STOP, Hang, loadLib, newControl, random, sleep, spawn, until, within } from '../lib.mjs';

export const name = 'kill';
const CAPACITIES = [1, 3, 64, 1024];

export async function run({ seed, quick }) {
  const rand = random(seed);
  const rounds = quick ? 2 : 56;
  const killsPerRound = quick ? 8 : 10;
  const keysPerProducer = 1_000_000;
  const limitMs = 30_000;
  const totals = {
    volume: 0,
    lost: 0,
    allowed: 0,
    named: 0,
    excess: 0,
    duplicated: 0,
    hangs: 0,
    kills: 0,
    deferred: 0,
    maxReleaseMs: 0,
    abandoned: 0,
    outOfOrder: 0,
    corrupt: 0,
  };
  const lib = await loadLib();
  for (let round = 0; round < rounds; round++) {
    const capacity = CAPACITIES[round % CAPACITIES.length];
    const maxThreads = 16;
    const port = new lib.CompletionPort({ capacity, concurrency: 2, maxThreads });
    // Every 5th round: take every claim record (maxThreads + 64) from this thread first.
    if (round % 5 === 4) for (let i = 0; i < maxThreads + 64; i++) lib.CompletionPort.from(port.handle).stats();
    const control = newControl();
    const producers = 2;
    const keys = producers * keysPerProducer;
    const seen = new SharedArrayBuffer(keys);
    const seenBy = new SharedArrayBuffer(keys * 4);
    const posted = new SharedArrayBuffer(keys);
    const abandoned = [];
    /** The packets releaseThread() named as taken by a dead consumer, with that consumer's threadId. */
    const named = [];
    const unrecorded = round % 5 === 4;
    const live = new Set();
    let killedConsumers = 0;
    const start = (role, index) => {
      const agent =
        role === 'producer'
          ? spawn('producer', {
              handle: port.handle,
              control: control.buffer,
              posted,
              index,
              from: index * keysPerProducer,
              to: (index + 1) * keysPerProducer,
            })
          : spawn('consumer', {
              handle: port.handle,
              control: control.buffer,
              seen,
              seenBy,
              index,
              mode: index % 2 === 0 ? 'get' : 'getAsync',
              seed: seed * 104729 + round * 100 + index,
            });
      agent.index = index;
      live.add(agent);
      // As a pool does: on every exit, give back what the thread held.
      agent.exit.then(() => {
        live.delete(agent);
        const t0 = performance.now();
        const r = port.releaseThread(agent.threadId);
        totals.maxReleaseMs = Math.max(totals.maxReleaseMs, performance.now() - t0);
        if (r.deferred) totals.deferred++;
        abandoned.push(...r.abandoned);
        for (const p of r.lastTaken) named.push({ key: p.completionKey, by: agent.threadId });
      });
      return agent;
    };
    for (let i = 0; i < producers; i++) start('producer', i);
    for (let i = 0; i < 2; i++) start('consumer', i);
    try {
      for (let k = 0; k < killsPerRound; k++) {
        // A random instant: after some progress, then up to 3 ms more.
        const at = Atomics.load(control, C_DONE) + 1 + rand.int(2000);
        await until(() => Atomics.load(control, C_DONE) >= at, `round ${round}: progress before kill ${k}`, limitMs);
        await sleep(rand() * 3);
        const victims = [rand.pick([...live])];
        if (rand() < 0.25) victims.push(rand.pick([...live].filter((a) => a !== victims[0])));
        await Promise.all(victims.map((v) => v.worker.terminate()));
        await Promise.all(victims.map((v) => v.exit));
        await sleep(0); // the exit handlers (releaseThread) run
        for (const v of victims) {
          totals.kills++;
          if (v.role === 'consumer' && unrecorded) killedConsumers++;
          start(v.role, v.index);
        }
      }
      // Stop the producers, let the consumers drain, close.
      Atomics.store(control, C_STOP, 1);
      await within(Promise.all([...live].filter((a) => a.role === 'producer').map((a) => a.done)), `round ${round}: producers stop`, limitMs);
      const was = new Uint8Array(posted);
      let postedCount = 0;
      for (let k = 0; k < keys; k++) postedCount += was[k];
      const seenView = new Uint8Array(seen);
      // A packet handed to a live consumer and not yet read is not queued: it reaches that consumer after the close too.
      await until(() => port.stats().queued === 0, `round ${round}: consumers drain`, limitMs);
      const returned = port.close();
      const consumers = [...live].filter((a) => a.role === 'consumer');
      const reports = await within(Promise.all(consumers.map((a) => a.done)), `round ${round}: consumers see the close`, limitMs);
      for (const r of reports) {
        totals.outOfOrder += r.outOfOrder;
        totals.corrupt += r.corrupt;
      }
      const where = seenView.slice();
      for (const p of [...returned, ...abandoned]) where[p.completionKey]++;
      totals.abandoned += abandoned.length;
      // A named packet reached the dead consumer: counted once, whether or not it recorded it first.
      const by = new Int32Array(seenBy);
      for (const { key, by: threadId } of named) {
        if (where[key] === 0) {
          where[key] = 1;
          totals.named++;
        } else if (by[key] !== threadId + 1) {
          totals.duplicated++; // named as the dead thread's, yet delivered elsewhere too
          console.error(`  kill round ${round}: key ${key} named as taken by a dead consumer and delivered to another`);
        }
      }
      let lost = 0;
      for (let k = 0; k < keys; k++) {
        if (where[k] > 1) totals.duplicated += where[k] - 1;
        if (was[k] === 1 && where[k] === 0) lost++;
      }
      totals.lost += lost;
      totals.allowed += killedConsumers;
      // Per round: a recorded round allows none.
      totals.excess += Math.max(0, lost - killedConsumers);
      if (lost > killedConsumers) console.error(`  kill round ${round}: ${lost} lost, ${killedConsumers} consumers killed unrecorded`);
      totals.volume += postedCount;
    } catch (error) {
      if (!(error instanceof Hang)) throw error;
      totals.hangs++;
      console.error(`  kill round ${round} (capacity ${capacity}): ${error.message}; stats ${JSON.stringify(port.stats())}`);
    } finally {
      Atomics.store(control, C_STOP, 1);
      try {
        port.close();
      } catch {
        /* a failed round may leave it corrupt: reported above */
      }
      await Promise.all([...live].map((a) => a.worker.terminate()));
    }
  }
  const excess = totals.excess;
  return {
    name,
    seed,
    volume: totals.volume,
    unit: `packets, ${totals.kills} kills`,
    lost: `${totals.lost} (≤ 1 per consumer killed while unrecorded: ${totals.allowed} allowed)`,
    duplicated: totals.duplicated,
    hangs: totals.hangs,
    // Not out-of-order: a packet a dead consumer was handed goes back in front, after the live ones took later packets.
    ok: excess + totals.duplicated + totals.hangs + totals.corrupt === 0,
    extra:
      `${rounds} rounds, capacities ${CAPACITIES.join('/')}, ${totals.named} packets named by releaseThread (taken by a consumer that died before recording them), ` +
      `releaseThread ≤ ${totals.maxReleaseMs.toFixed(1)} ms, ` +
      `${totals.deferred} releases deferred, ${totals.abandoned} recovered after close, out of order after a requeue ${totals.outOfOrder}, torn ${totals.corrupt}`,
  };
}
