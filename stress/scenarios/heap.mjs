// The shared heap at a small bound: a pool with heap.maxBytes 16 MiB echoes
// payloads of every size class — 1 B … 1.5 MiB, log-uniform, so the slot,
// every heap class up to maxBlockBytes (1 MiB) and the MessagePort fallback
// above it — with 32 run() calls in flight, a tenth of them alloc() views
// that cross by reference, for 60 s (8 s with --quick). Far more classes are
// in use than 16 MiB of segments can hold, so the heap works at its bound all
// along: reformatting empty segments, retiring, releasing in rounds. RSS is
// sampled every 500 ms. Checks: every echo comes back byte-exact; the heap
// never passes maxBytes, nor its retired-not-yet-freed memory
// (releasingBytes) maxBytes; RSS stays under its start plus 8 × maxBytes plus
// 256 MiB (copies in four threads, the allocator's caches) and the last third
// of the run no higher than the first plus 96 MiB. "lost" = run() calls that
// never settled, "duplicated" = an echo that came back with other bytes.
import { Hang, loadLib, random, within } from '../lib.mjs';

export const name = 'heap';
const FIXTURE = new URL('../fixtures/echo.mjs', import.meta.url);
const KiB = 1024;
const MiB = 1024 * KiB;

export async function run({ seed, quick }) {
  const rand = random(seed);
  const seconds = quick ? 8 : 60;
  const maxBytes = 16 * MiB;
  const { ThreadPool } = await loadLib();
  const pool = new ThreadPool({ filename: FIXTURE, threads: 2, heap: { maxBytes, maxBlockBytes: MiB } });
  const source = new Uint8Array(1.5 * MiB);
  for (let i = 0; i < source.length; i++) source[i] = (i * 131 + (i >>> 8)) & 0xff;
  const size = () => Math.floor(2 ** (rand() * Math.log2(1.5 * MiB)));
  /** The echo of bytes [0, n) of source: its length and a sample of its bytes, first and last included. */
  const exact = (back, n) => {
    if (!(back instanceof Uint8Array) || back.length !== n) return false;
    for (let i = 0; i < n; i += 4093) if (back[i] !== source[i]) return false;
    return n === 0 || back[n - 1] === source[n - 1];
  };

  // Warm up, then the baseline.
  await Promise.all(Array.from({ length: 64 }, (_, i) => pool.run(source.subarray(0, 2 ** (i % 21)))));
  const base = process.memoryUsage().rss;
  const samples = [];
  let worstBytes = 0;
  let worstReleasing = 0;
  const sampler = setInterval(() => {
    const heap = pool.stats().heap;
    worstBytes = Math.max(worstBytes, heap.bytes);
    worstReleasing = Math.max(worstReleasing, heap.releasingBytes ?? 0);
    samples.push({ t: performance.now(), rss: process.memoryUsage().rss });
  }, 500);

  let started = 0;
  let settled = 0;
  let wrong = 0;
  let failed = 0;
  let byReference = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const client = async () => {
    while (performance.now() < end) {
      const n = size();
      started++;
      let view = null;
      if (n <= MiB && rand() < 0.1) {
        try {
          view = pool.alloc(n);
          view.set(source.subarray(0, n));
          byReference++;
        } catch {
          view = null; // the heap is full: this one goes as a copy
        }
      }
      try {
        const back = await pool.run(view ?? source.subarray(0, n));
        if (!exact(back, n)) wrong++;
        else if (view !== null && n > 0) {
          // By reference: the same bytes, not a copy of them.
          back[0] ^= 0xff;
          if (view[0] !== (source[0] ^ 0xff)) wrong++;
        }
      } catch (error) {
        failed++;
        console.error(`  heap: an echo of ${n} bytes failed: ${error?.message ?? error}`);
      } finally {
        if (view !== null) pool.free(view);
        settled++;
      }
    }
  };
  let hangs = 0;
  try {
    await within(Promise.all(Array.from({ length: 32 }, client)), 'every echo settles', (seconds + 60) * 1000);
  } catch (error) {
    if (!(error instanceof Hang)) throw error;
    hangs++;
    console.error(`  heap: ${error.message} (${started - settled} unsettled)`);
  }
  clearInterval(sampler);
  const elapsed = (performance.now() - t0) / 1000;
  try {
    await within(pool.close(), 'close()', 60_000);
  } catch (error) {
    if (!(error instanceof Hang)) throw error;
    hangs++;
    await pool.destroy();
  }

  const rss = samples.map((s) => s.rss);
  const third = Math.max(1, Math.floor(rss.length / 3));
  const early = Math.max(...rss.slice(0, third));
  const late = Math.max(...rss.slice(-third));
  const peak = Math.max(...rss);
  const bound = base + 8 * maxBytes + 256 * MiB;
  // RSS over time: the highest sample of each tenth of the run.
  const tenths = [];
  for (let k = 0; k < 10; k++) {
    const part = rss.slice(Math.floor((k * rss.length) / 10), Math.floor(((k + 1) * rss.length) / 10));
    if (part.length > 0) tenths.push(Math.round(Math.max(...part) / MiB));
  }
  const boundOk = peak <= bound && late <= early + 96 * MiB;
  const heapOk = worstBytes <= maxBytes && worstReleasing <= maxBytes;
  if (!boundOk)
    console.error(
      `  heap: RSS ${Math.round(peak / MiB)} MiB (bound ${Math.round(bound / MiB)} MiB), last third ${Math.round(late / MiB)} MiB vs first ${Math.round(early / MiB)} MiB`,
    );
  if (!heapOk) console.error(`  heap: heap bytes reached ${worstBytes}, releasing ${worstReleasing} (bound ${maxBytes} each)`);
  return {
    name,
    seed,
    volume: settled,
    unit: `echoes of 1 B … 1.5 MiB (${byReference} by reference) through a 16 MiB heap in ${elapsed.toFixed(0)} s`,
    lost: started - settled,
    duplicated: wrong,
    hangs,
    ok: started === settled && wrong === 0 && failed === 0 && hangs === 0 && boundOk && heapOk,
    extra:
      `${Math.round(settled / elapsed)}/s; ${failed} failed; RSS ${Math.round(base / MiB)} MiB at start, max per tenth of the run [${tenths.join(', ')}] MiB, ` +
      `bound ${Math.round(bound / MiB)} MiB; heap bytes ≤ ${(worstBytes / MiB).toFixed(1)} MiB, releasing ≤ ${(worstReleasing / MiB).toFixed(1)} MiB`,
  };
}
