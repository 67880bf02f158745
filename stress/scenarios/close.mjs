// close() at random instants while producers post and consumers take: every
// key ends in exactly one place — delivered, returned by close(), or never
// posted (its post() threw PortClosedError).
import { C_DONE, Hang, loadLib, newControl, random, sleep, spawn, within } from '../lib.mjs';

export const name = 'close';
const CAPACITIES = [1, 2, 3, 16, 100, 4096];
const MODES = ['get', 'getMany', 'getAsync', 'mixed'];

export async function run({ seed, quick }) {
  const rand = random(seed);
  const rounds = quick ? 8 : 300;
  const keys = 20_000;
  const limitMs = 30_000;
  const totals = { volume: 0, lost: 0, duplicated: 0, hangs: 0, outOfOrder: 0, corrupt: 0, returned: 0, ghost: 0 };
  const { CompletionPort } = await loadLib();
  for (let round = 0; round < rounds; round++) {
    const capacity = rand.pick(CAPACITIES);
    const producers = 1 + rand.int(3);
    const consumers = 1 + rand.int(3);
    const port = new CompletionPort({ capacity, concurrency: 1 + rand.int(3) });
    const control = newControl();
    const seen = new SharedArrayBuffer(keys);
    const posted = new SharedArrayBuffer(keys);
    const share = Math.floor(keys / producers);
    const cs = Array.from({ length: consumers }, (_, i) =>
      spawn('consumer', { handle: port.handle, control: control.buffer, seen, index: i, mode: rand.pick(MODES), seed: seed * 7919 + round * 10 + i }),
    );
    const ps = Array.from({ length: producers }, (_, i) =>
      spawn('producer', { handle: port.handle, control: control.buffer, posted, index: i, from: i * share, to: (i + 1) * share }),
    );
    try {
      // Close at a random instant: after a random number of packets were taken, or a random time after the start.
      const target = rand.int(keys / 2);
      const wait = rand() < 0.5 ? () => Atomics.load(control, C_DONE) >= target : null;
      if (wait) {
        const start = Date.now();
        while (!wait() && Date.now() - start < limitMs) await sleep(0);
      } else {
        await sleep(rand() * 20);
      }
      const returned = port.close();
      await within(Promise.all([...ps, ...cs].map((a) => a.done)), `round ${round}: every agent sees the close`, limitMs);
      const reports = await Promise.all(cs.map((c) => c.done));
      for (const r of reports) {
        totals.outOfOrder += r.outOfOrder;
        totals.corrupt += r.corrupt;
      }
      const where = new Uint8Array(seen);
      for (const p of returned) where[p.completionKey]++;
      totals.returned += returned.length;
      const was = new Uint8Array(posted);
      for (let k = 0; k < keys; k++) {
        if (was[k] === 1 && where[k] === 0) totals.lost++;
        else if (where[k] > 1) totals.duplicated += where[k] - 1;
        else if (was[k] === 0 && where[k] === 1) totals.ghost++; // delivered although its post threw or never ran
        if (was[k] === 1) totals.volume++;
      }
    } catch (error) {
      if (!(error instanceof Hang)) throw error;
      totals.hangs++;
      console.error(`  close round ${round} (capacity ${capacity}): ${error.message}`);
      port.close();
    } finally {
      await Promise.all([...cs, ...ps].map((a) => a.worker.terminate()));
    }
  }
  return {
    name,
    seed,
    volume: totals.volume,
    unit: `packets in ${rounds} close rounds`,
    lost: totals.lost,
    duplicated: totals.duplicated + totals.ghost,
    hangs: totals.hangs,
    ok: totals.lost + totals.duplicated + totals.ghost + totals.hangs + totals.outOfOrder + totals.corrupt === 0,
    extra: `${totals.returned.toLocaleString('en')} returned by close(), not posted but delivered ${totals.ghost}, out of order ${totals.outOfOrder}, torn ${totals.corrupt}`,
  };
}
