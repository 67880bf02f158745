// The shared heap across real threads: views by reference both ways, segments learnt without waiting,
// a late thread joining, double free across threads, concurrent alloc/free (no block handed out twice),
// and bounded memory that shrinks back. Handshakes are messages and shared words, never sleeps.
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { TAG_SERIAL } from '../../src/codec/slot-views.js';
import { type HeldSegment, SharedHeap } from '../../src/heap/heap.js';
import { arenaGeometry, slotWord } from '../../src/pool/layout.js';
import { SlotCodec } from '../../src/codec/slot-codec.js';
import { TAG_BYTES, TAG_HEAP, TAG_VIEW } from '../../src/codec/slot-decode.js';

const AGENT = new URL('./fixtures/heap-agent.mjs', import.meta.url);
const KiB = 1024;
const MiB = 1024 * KiB;
const SLOTS = 4;
const SLOT_BYTES = 256;

interface Agent {
  call(op: string, args?: Record<string, unknown>): Promise<unknown>;
  worker: Worker;
}

const running: Worker[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.terminate()));
});

/** Starts a heap agent; resolves once it has attached (its first message). */
async function agent(workerData: Record<string, unknown>): Promise<Agent> {
  const worker = new Worker(AGENT, { workerData });
  running.push(worker);
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 1;
  let ready!: () => void;
  const started = new Promise<void>((resolve) => (ready = resolve));
  worker.on('message', ({ id, ok, value }: { id: number; ok: boolean; value: unknown }) => {
    if (id === 0) return ready();
    const p = pending.get(id)!;
    pending.delete(id);
    if (ok) p.resolve(value);
    else p.reject(new Error(String(value)));
  });
  worker.on('error', (e) => {
    for (const p of pending.values()) p.reject(e);
  });
  await started;
  return {
    worker,
    call: (op, args) =>
      new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, op, args });
      }),
  };
}

function arena(heap: SharedHeap) {
  const g = arenaGeometry(SLOTS, SLOT_BYTES);
  const buffer = new SharedArrayBuffer(g.byteLength);
  const codec = new SlotCodec(buffer, SLOTS, g.slotBytes, heap);
  return {
    codec,
    data: { handle: heap.handle, arena: buffer, slots: SLOTS, slotBytes: g.slotBytes },
    w: (slot: number) => slotWord(g.slotBytes, slot),
  };
}

describe('the shared heap across threads', () => {
  it('passes a view by reference both ways: each side writes, the other reads the same bytes', async () => {
    const heap = SharedHeap.create();
    const { codec, data, w } = arena(heap);
    const a = await agent(data);
    const view = heap.alloc(1000);
    for (let i = 0; i < view.length; i++) view[i] = i & 255;
    expect(codec.encode(w(0), { data: view })).toBe(TAG_SERIAL); // the reference fits the slot
    await a.call('mutate', { slot: 0, reply: 1, fill: 7, size: 5000 });
    const result = codec.decode(w(1)) as { got: Uint8Array; mine: Uint8Array };
    // The worker inverted the bytes through its reference: this thread sees it in its own view.
    for (let i = 0; i < view.length; i++) expect(view[i]).toBe(255 - (i & 255));
    expect(result.got.buffer).toBe(view.buffer);
    expect(result.got.byteOffset).toBe(view.byteOffset);
    // The worker's own block arrives by reference too, and this thread frees it.
    expect(heap.segmentOf(result.mine.buffer)).toBeDefined();
    expect(result.mine.length).toBe(5000);
    expect(result.mine.every((b) => b === 7)).toBe(true);
    heap.free(result.mine);
    // A top-level view: no serialization at all.
    expect(codec.encode(w(2), view)).toBe(TAG_VIEW | TAG_HEAP);
    const seen = (await a.call('decode', { slot: 2 })) as { view: boolean; heap: boolean; bytes: number[] };
    expect(seen.heap).toBe(true);
    expect(seen.bytes).toEqual(Array.from(view));
    heap.free(view);
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });

  it('finds a segment another thread created, at once, in either direction', async () => {
    const heap = SharedHeap.create();
    const { codec, data, w } = arena(heap);
    const a = await agent(data);
    // The worker creates a segment (3 MB blocks: none exists yet) and answers in it.
    const bytes = new Uint8Array(3 * MiB).map((_, i) => (i * 31) & 255);
    expect(await a.call('encode', { slot: 1, value: bytes })).toBe(TAG_BYTES | TAG_HEAP);
    const back = codec.decode(w(1)) as Uint8Array;
    expect(Buffer.compare(back, bytes)).toBe(0);
    // This thread creates one (a new class) and the worker reads it in the same turn.
    const mine = heap.alloc(700 * KiB);
    mine.fill(3);
    codec.encode(w(0), mine);
    const seen = (await a.call('decode', { slot: 0 })) as { heap: boolean; bytes: number[] };
    expect(seen.heap).toBe(true);
    expect(seen.bytes.every((b) => b === 3)).toBe(true);
    heap.free(mine);
    heap.close();
  });

  it('a thread that subscribes late reads older segments once it adopts an earlier thread’s grants', async () => {
    const heap = SharedHeap.create();
    const { codec, data, w } = arena(heap);
    const gate = new SharedArrayBuffer(4);
    const late = agent({ ...data, wait: gate }); // its handle lists no segment
    const view = heap.alloc(2 * MiB); // a segment posted before the agent subscribes
    view.fill(5);
    codec.encode(w(0), view);
    Atomics.store(new Int32Array(gate), 0, 1);
    Atomics.notify(new Int32Array(gate), 0);
    const a = await late;
    await expect(a.call('decode', { slot: 0 })).rejects.toThrow(/does not hold/);
    await a.call('adopt', { grants: heap.grants() }); // taken after it subscribed
    const seen = (await a.call('decode', { slot: 0 })) as { heap: boolean; bytes: number[] };
    expect(seen.heap).toBe(true);
    expect(seen.bytes.length).toBe(2 * MiB);
    expect(seen.bytes.every((b) => b === 5)).toBe(true);
    heap.free(view);
    heap.close();
  });

  it('a block freed on one thread and again on another is a TypeError; so is a foreign view', async () => {
    const heap = SharedHeap.create();
    const { codec, data, w } = arena(heap);
    const a = await agent(data);
    const view = heap.alloc(300);
    codec.encode(w(0), view);
    expect(await a.call('freeView', { slot: 0 })).toBe('freed');
    expect(() => heap.free(view)).toThrow(TypeError);
    codec.encode(w(0), view.slice()); // a copy: not heap memory on the other side
    expect(await a.call('freeView', { slot: 0 })).toMatch(/^TypeError: .*not from this shared heap/);
    heap.close();
  });

  it('shrinks back: segments retired here are dropped by the other threads', async () => {
    const heap = SharedHeap.create({ floorBytes: 0, retireAfterMs: 0 });
    const { data } = arena(heap);
    const a = await agent(data);
    const views = Array.from({ length: 48 }, () => heap.alloc(64 * KiB));
    const before = (await a.call('stats')) as { segments: number };
    expect(before.segments).toBe(heap.stats().segments);
    for (const v of views) heap.free(v);
    heap.trim();
    heap.trim();
    expect(heap.stats()).toMatchObject({ bytes: 0, segments: 0 });
    expect(await a.call('stats')).toMatchObject({ bytes: 0, segments: 0 });
    heap.close();
  });
});

/** A release round (H7) with this thread and the agents: what the pool's main thread does when a thread retired segments. */
async function releaseRound(heap: SharedHeap, agents: Agent[]): Promise<number> {
  const token = heap.beginRelease();
  const held = (await Promise.all([heap.collect(), ...agents.map((a) => a.call('collect'))])).flat() as HeldSegment[];
  return heap.endRelease(token, held);
}

describe('giving memory back', () => {
  it('a release round sees retired segments dropped and collected in every thread, and counts them until then', async () => {
    const heap = SharedHeap.create({ floorBytes: 0, retireAfterMs: 0 });
    const { data } = arena(heap);
    const a = await agent(data);
    // This thread's objects of the segments, watched: a collection that finds them unreachable clears these.
    const segments = (() => {
      const views = Array.from({ length: 48 }, () => heap.alloc(1 * MiB).fill(1));
      for (const v of views) heap.free(v);
      return [...new Set(views.map((v) => v.buffer))].map((b) => new WeakRef(b));
    })();
    await a.call('stats'); // the worker adopts every segment
    const retired = heap.trim(true);
    expect(retired).toBeGreaterThanOrEqual(48 * MiB);
    expect(heap.stats().releasingBytes).toBe(retired);
    const token = heap.beginRelease();
    const [here, there] = (await Promise.all([heap.collect(), a.call('collect')])) as HeldSegment[][];
    expect(here).toEqual([]);
    expect(there).toEqual([]); // the worker dropped them and saw its objects collected
    expect(heap.endRelease(token, [...here!, ...there!])).toBe(retired);
    expect(heap.stats().releasingBytes).toBe(0);
    expect(segments.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    heap.close();
  });

  it('a segment another thread still holds stays counted, with its size, until a round finds it gone', async () => {
    const heap = SharedHeap.create({ floorBytes: 0, retireAfterMs: 0 });
    const { codec, data, w } = arena(heap);
    const a = await agent(data);
    // A view to the worker by reference; this thread keeps nothing of it (only its segment's size).
    const kb = (() => {
      const view = heap.alloc(300);
      codec.encode(w(0), view);
      return Math.ceil(heap.segmentOf(view.buffer)!.buffer.byteLength / KiB);
    })();
    expect(await a.call('keep', { slot: 0 })).toBe(true); // the worker keeps a view of that segment…
    expect(await a.call('freeKept')).toBe(true); // …and frees its block, but keeps the view
    expect(heap.trim(true)).toBe(kb * KiB);
    expect(await releaseRound(heap, [a])).toBe(0); // held there: nothing released
    expect(heap.stats().releasingBytes).toBe(kb * KiB);
    expect(await a.call('unkeep')).toBe(true);
    expect(await releaseRound(heap, [a])).toBe(kb * KiB);
    expect(heap.stats().releasingBytes).toBe(0);
    heap.close();
  });
});

describe('concurrent allocation and free', () => {
  const MAX_SEGMENTS = 64;
  const BLOCKS = 4096; // the most blocks a segment has (heap-layout.ts)

  it.each([1, 2, 3, 4])('no block is handed out twice, memory stays bounded and shrinks back (seed %i)', async (seed) => {
    const maxBytes = 12 * MiB;
    const heap = SharedHeap.create({ maxBytes, floorBytes: 0, maxBlockBytes: 512 * KiB, maxSegments: MAX_SEGMENTS, retireAfterMs: 0 });
    const claims = new SharedArrayBuffer(MAX_SEGMENTS * BLOCKS * 4);
    const peak = new SharedArrayBuffer(4);
    const agents = await Promise.all([agent({ handle: heap.handle }), agent({ handle: heap.handle })]);
    const sizes = [8, 100, 1000, 3000, 20_000, 70_000, 300_000];
    let trimming = true;
    let trims = 0;
    let releasing = 0;
    // This thread retires empty segments while the workers allocate: retire races allocation (and
    // reformatting, and the workers' own retires at the bound).
    const trimmer = (async () => {
      while (trimming) {
        heap.trim();
        trims++;
        releasing = Math.max(releasing, heap.stats().releasingBytes);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const results = (await Promise.all(
      agents.map((a, i) => a.call('churn', { rounds: 60_000, hold: 24, sizes, seed: seed * 10 + i, claims, blocksPerSegment: BLOCKS, peak })),
    )) as { dup: number; corrupt: number; full: number; taken: number }[];
    trimming = false;
    await trimmer;
    for (const r of results) {
      expect(r.dup).toBe(0);
      expect(r.corrupt).toBe(0);
      expect(r.taken).toBeGreaterThan(10_000);
    }
    expect(new Int32Array(peak)[0]! * 1024).toBeLessThanOrEqual(maxBytes);
    expect(releasing).toBeLessThanOrEqual(maxBytes); // H7
    expect(trims).toBeGreaterThan(0);
    expect(heap.stats().blocks).toBe(0);
    await releaseRound(heap, agents); // what the workers retired at the bound (the pool runs these itself)
    heap.trim();
    heap.trim();
    expect(heap.stats().bytes).toBe(0);
    heap.close();
  });
});
