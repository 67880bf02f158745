// Exactly once with many producers and consumers and small capacities:
// rounds over capacities 1, 2, 3, 5, 64 and 4096, 1–4 producers against 1–4
// consumers (get, getMany, getAsync or a mix, with timeouts), a random
// concurrency. Every key must be delivered exactly once, each producer's
// keys in order, every packet whole.
import { C_DONE, Hang, loadLib, newControl, random, spawn, until, within } from '../lib.mjs';

export const name = 'mpmc';
const CAPACITIES = [1, 2, 3, 5, 64, 4096];
const MODES = ['get', 'getMany', 'getAsync', 'mixed'];

export async function run({ seed, quick }) {
  const rand = random(seed);
  const rounds = quick ? 6 : 24;
  const perRound = quick ? 15_000 : 500_000;
  const limitMs = quick ? 30_000 : 180_000;
  const totals = { volume: 0, lost: 0, duplicated: 0, hangs: 0, outOfOrder: 0, corrupt: 0 };
  const { CompletionPort } = await loadLib();
  for (let round = 0; round < rounds; round++) {
    const capacity = CAPACITIES[round % CAPACITIES.length];
    const producers = 1 + rand.int(4);
    const consumers = 1 + rand.int(4);
    const port = new CompletionPort({ capacity, concurrency: 1 + rand.int(4) });
    const control = newControl();
    const seen = new SharedArrayBuffer(perRound);
    const cs = Array.from({ length: consumers }, (_, i) =>
      spawn('consumer', { handle: port.handle, control: control.buffer, seen, index: i, mode: rand.pick(MODES), seed: seed * 1000 + round * 10 + i }),
    );
    const share = Math.ceil(perRound / producers);
    const ps = Array.from({ length: producers }, (_, i) =>
      spawn('producer', { handle: port.handle, control: control.buffer, index: i, from: i * share, to: Math.min(perRound, (i + 1) * share) }),
    );
    try {
      await within(Promise.all(ps.map((p) => p.done)), `round ${round}: producers`, limitMs);
      await until(() => Atomics.load(control, C_DONE) >= perRound, `round ${round}: consumers`, limitMs);
      const left = port.close();
      const reports = await within(Promise.all(cs.map((c) => c.done)), `round ${round}: consumers to see the close`, limitMs);
      for (const r of reports) {
        totals.outOfOrder += r.outOfOrder;
        totals.corrupt += r.corrupt;
      }
      const counts = new Uint8Array(seen);
      for (const p of left) counts[p.completionKey]++;
      for (let k = 0; k < perRound; k++) {
        if (counts[k] === 0) totals.lost++;
        else if (counts[k] > 1) totals.duplicated += counts[k] - 1;
      }
      totals.volume += perRound;
    } catch (error) {
      if (!(error instanceof Hang)) throw error;
      totals.hangs++;
      console.error(`  mpmc round ${round} (capacity ${capacity}, ${producers}→${consumers}): ${error.message}`);
      port.close();
    } finally {
      await Promise.all([...cs, ...ps].map((a) => a.worker.terminate()));
    }
  }
  return {
    name,
    seed,
    volume: totals.volume,
    unit: 'packets',
    lost: totals.lost,
    duplicated: totals.duplicated,
    hangs: totals.hangs,
    ok: totals.lost + totals.duplicated + totals.hangs + totals.outOfOrder + totals.corrupt === 0,
    extra: `${rounds} rounds, capacities ${CAPACITIES.join('/')}, out of order ${totals.outOfOrder}, torn ${totals.corrupt}`,
  };
}
