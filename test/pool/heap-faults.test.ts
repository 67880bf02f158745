// The shared heap when things go wrong, and over time: threads that die or are stopped mid-task,
// tasks cancelled or abandoned with their payload in the heap, and an hour's worth of churn.
import { describe, expect, it } from 'vitest';
import { AbortError, TimeoutError, WorkerDiedError } from '../../dist/index.js';
import { heapPools, KiB, MiB, randomBytes, settledBlocks, stoppedAndReplaced, waitFor } from './helpers.js';

const make = heapPools({ expectDeaths: true });

describe('faults: the heap loses at most what a dying thread was writing', () => {
  it('a thread that dies in its handler held nothing: its task was freed before the handler ran', async () => {
    const pool = make();
    const big = randomBytes(MiB);
    const results = await Promise.allSettled([pool.run(big, { name: 'die' }), ...Array.from({ length: 20 }, () => pool.run(big))]);
    expect(results[0]!.status).toBe('rejected');
    expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(WorkerDiedError);
    for (const r of results.slice(1)) {
      // A task on the same thread as the death fails with it; every other comes back exact.
      if (r.status === 'fulfilled') expect(Buffer.compare(r.value as Uint8Array, big)).toBe(0);
      else expect(r.reason).toBeInstanceOf(WorkerDiedError);
    }
    await waitFor(() => pool.stats().threads === 2, 'the dead thread to be replaced');
    expect(pool.stats().heap.blocks).toBe(0);
  });

  it('a thread that dies while it writes its result loses the block it was filling, and nothing else', async () => {
    const pool = make();
    const deaths = 5;
    for (let i = 0; i < deaths; i++) {
      await expect(pool.run({ n: 300 * KiB }, { name: 'dieWhileEncoding' })).rejects.toBeInstanceOf(WorkerDiedError);
    }
    expect(pool.stats().heap.blocks).toBeLessThanOrEqual(deaths);
    // The heap still works: payloads of every size, and nothing more is lost.
    const before = pool.stats().heap.blocks;
    for (const n of [0, 5000, 300 * KiB, 2 * MiB]) {
      const b = randomBytes(n);
      expect(Buffer.compare((await pool.run(b)) as Uint8Array, b)).toBe(0);
    }
    expect(pool.stats().heap.blocks).toBe(before);
  });

  it('threads stopped (terminate) at random points of alloc/free lose at most one block each; the heap stays consistent', async () => {
    const pool = make({ heap: { maxBytes: 64 * MiB } });
    const rounds = 8;
    for (let i = 0; i < rounds; i++) {
      // Each round waits for the stopped thread's exit: a thread still churning would be counted
      // twice by a stats() that reads one segment after another while it moves between them.
      const stopped = stoppedAndReplaced(pool, () => pool.run({ seed: 1 + i * 7919 }, { name: 'churnForever', timeout: 20 + (i % 4) * 15 }), 2);
      expect(await stopped).toBeInstanceOf(TimeoutError);
    }
    const heap = pool.stats().heap;
    expect(heap.blocks).toBeLessThanOrEqual(rounds);
    expect(heap.bytes).toBeLessThanOrEqual(heap.maxBytes);
    // Everything still works, both ways, and nothing more is lost: passes of the same traffic
    // until the deaths' after-effects have landed (settledBlocks), then no pass adds a block.
    const traffic = async (): Promise<void> => {
      const tasks = Array.from({ length: 40 }, (_, i) => randomBytes((i * 53_987) % (400 * KiB)));
      const backs = (await Promise.all(tasks.map((t) => pool.run(t)))) as Uint8Array[];
      for (let i = 0; i < tasks.length; i++) expect(Buffer.compare(backs[i]!, tasks[i]!)).toBe(0);
      const view = pool.alloc(100_000);
      view[0] = 1;
      await pool.run(view, { name: 'poke' });
      expect(view[1]).toBe(2);
      pool.free(view);
    };
    const lost = await settledBlocks(() => pool.stats().heap.blocks, traffic);
    expect(lost).toBeLessThanOrEqual(rounds);
  });

  it('gives back the heap block of a task cancelled before it ran', async () => {
    const pool = make({ threads: 1 });
    const gate = new SharedArrayBuffer(8);
    const words = new Int32Array(gate);
    const blocker = pool.run({ gate }, { name: 'block' });
    await waitFor(() => Atomics.load(words, 1) === 1, 'the only thread to be busy');
    const controller = new AbortController();
    const cancelled = pool.run(randomBytes(500 * KiB), { signal: controller.signal });
    expect(pool.stats().heap.blocks).toBe(1); // the task, written into the heap, waiting
    controller.abort();
    await expect(cancelled).rejects.toBeInstanceOf(AbortError);
    Atomics.store(words, 0, 1);
    Atomics.notify(words, 0);
    expect(await blocker).toBe('released');
    // The thread acknowledges the cancelled packet; only then is the slot, and its block, given back.
    await waitFor(() => pool.stats().heap.blocks === 0, 'the cancelled task’s block to be freed');
  });

  it('gives back the heap block of a result that came after its run() timed out', async () => {
    const pool = make({ threads: 1 });
    await expect(pool.run({ ms: 60, n: 400 * KiB }, { name: 'late', timeout: 20 })).rejects.toBeInstanceOf(TimeoutError);
    // The result comes within the grace (the thread is not stopped); nobody waits for it.
    expect(await pool.run(1)).toBe(1);
    await waitFor(() => pool.stats().heap.blocks === 0, 'the late result’s block to be freed');
    expect(pool.stats().threads).toBe(1);
  });
});

/** Exact equality of the churn's payloads (expect().toEqual walks a typed array element by element: far too slow here). */
function same(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0;
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  const x = a as { bytes?: Uint8Array; n?: number; list?: unknown[] };
  const y = b as typeof x;
  if (x.bytes !== undefined) return y.bytes !== undefined && x.n === y.n && same(x.bytes, y.bytes);
  return JSON.stringify(x) === JSON.stringify(y);
}

describe('churn', () => {
  it('an hour of mixed traffic (time compressed 500×): memory stays bounded and the idle pool shrinks back', async () => {
    // retireAfterMs 10 instead of 5,000: every retire window of an hour at the defaults (720)
    // passes in about 7 s here, each one a chance for segments to be created, retired and freed.
    const maxBytes = 48 * MiB;
    const floorBytes = 2 * MiB;
    const pool = make({ heap: { maxBytes, floorBytes, retireAfterMs: 10 } });
    let x = 12345;
    const random = (): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 4294967296;
    };
    const payload = (): unknown => {
      const size = Math.floor(random() ** 3 * 1.5 * MiB); // mostly small, now and then large
      switch (Math.floor(random() * 4)) {
        case 0:
          return randomBytes(size);
        case 1:
          return 'abc'.repeat(Math.ceil(size / 3));
        case 2:
          return { list: Array.from({ length: Math.ceil(size / 400) }, (_, i) => ({ i, s: `item-${i}` })) };
        default:
          return { bytes: randomBytes(size), n: size };
      }
    };
    const rss: number[] = [];
    const end = performance.now() + 7500;
    let tasks = 0;
    let shrinks = 0;
    while (performance.now() < end) {
      const burst = Array.from({ length: 1 + Math.floor(random() * 40) }, payload);
      const backs = await Promise.all(burst.map((t) => pool.run(t)));
      for (let i = 0; i < burst.length; i++) expect(same(backs[i], burst[i]), `task ${tasks + i} came back different`).toBe(true);
      tasks += burst.length;
      const heap = pool.stats().heap;
      expect(heap.blocks).toBe(0);
      expect(heap.bytes).toBeLessThanOrEqual(maxBytes);
      if (random() < 0.3) {
        // Idle now and then: the pool gives its heap back down to the floor.
        await waitFor(() => pool.stats().heap.bytes <= floorBytes, 'the idle heap to shrink to its floor');
        shrinks++;
      }
      rss.push(process.memoryUsage().rss);
    }
    await waitFor(() => pool.stats().heap.bytes <= floorBytes, 'the idle heap to shrink to its floor');
    const half = rss.length >> 1;
    const early = Math.max(...rss.slice(0, half));
    const late = Math.max(...rss.slice(half));
    const summary = `${tasks} tasks in ${rss.length} bursts, ${shrinks} shrinks; rss max ${(early / MiB).toFixed(0)} MiB in the first half, ${(late / MiB).toFixed(0)} MiB in the second`;
    expect(shrinks, summary).toBeGreaterThan(10);
    // Bounded: no growth from the first half of the hour to the second beyond noise. (Without the
    // collections that free retired segments, the second half measured 275 MiB above the first;
    // the process's own garbage, collected later on Node 24, once made 75 MiB of noise.)
    expect(late, summary).toBeLessThan(early + 128 * MiB);
  });
});
