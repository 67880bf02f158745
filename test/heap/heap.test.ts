// The shared heap in one thread: size classes, alloc/free, misuse, growth, shrinking, bounds.
import { describe, expect, it } from 'vitest';
import { SharedHeap } from '../../src/heap/heap.js';
import {
  CLASS_COUNT,
  classBytes,
  classOf,
  DEFAULT_POLICY,
  hostGeometry,
  MAX_BLOCK_LIMIT,
  MIN_BLOCK,
  policyFor,
  segmentGeometry,
} from '../../src/heap/layout.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('size classes', () => {
  it('give every size the smallest class that holds it, wasting at most 20 %', () => {
    expect(classOf(0)).toBe(0);
    expect(classBytes(0)).toBe(MIN_BLOCK);
    let prev = 0;
    for (let c = 0; c < CLASS_COUNT; c++) {
      const size = classBytes(c);
      expect(size).toBeGreaterThan(prev);
      expect(size % 16).toBe(0);
      expect(classOf(size)).toBe(c);
      if (c > 0) {
        expect(classOf(prev + 1)).toBe(c);
        expect((size - prev - 1) / size).toBeLessThan(0.2);
      }
      prev = size;
    }
    expect(classBytes(CLASS_COUNT - 1)).toBe(MAX_BLOCK_LIMIT);
  });

  it('every size from 0 to 70 000 maps to a class that holds it and no smaller one does', () => {
    const wrong: number[] = [];
    for (let n = 0; n <= 70_000; n++) {
      const c = classOf(n);
      if (!(classBytes(c) >= n && (c === 0 || classBytes(c - 1) < n))) wrong.push(n);
    }
    expect(wrong).toEqual([]);
  });

  it('lay segments out with 64-aligned data, a bitmap that covers every block and a length per block', () => {
    for (const policy of [DEFAULT_POLICY, policyFor(16 * MiB, MiB), policyFor(64 * KiB, 16 * KiB)]) {
      for (let c = 0; c < CLASS_COUNT; c++) {
        const g = segmentGeometry(c, policy);
        expect(g.dataOffset % 64).toBe(0);
        expect(g.bitmapWords * 32).toBeGreaterThanOrEqual(g.blocks);
        expect(g.lengthsWord).toBe(16 + g.bitmapWords);
        expect(g.dataOffset).toBeGreaterThanOrEqual((g.lengthsWord + g.blocks) * 4);
        expect(g.byteLength).toBe(g.dataOffset + g.blocks * g.blockBytes);
        expect(g.blocks).toBeGreaterThanOrEqual(Math.min(policy.minBlocks, 4096));
        // A buffer of that size formatted for its class again (H8) has the same geometry.
        expect(hostGeometry(c, g.byteLength)).toEqual(g);
      }
    }
  });

  it('size segments by the heap: 1 MiB and four blocks at least by default, smaller for a small heap', () => {
    expect(policyFor(256 * MiB, 4 * MiB)).toEqual(DEFAULT_POLICY);
    expect(DEFAULT_POLICY).toEqual({ targetBytes: MiB, minBlocks: 4 });
    expect(policyFor(16 * MiB, MiB)).toEqual({ targetBytes: 256 * KiB, minBlocks: 1 });
    expect(segmentGeometry(classOf(MiB), policyFor(16 * MiB, MiB)).blocks).toBe(1);
    expect(segmentGeometry(classOf(MiB)).blocks).toBe(4);
  });

  it('a segment of any size hosts the classes of which one block fits, and no other', () => {
    for (const length of [4 * KiB, 70 * KiB, MiB + 4096, 5 * MiB]) {
      for (let c = 0; c < CLASS_COUNT; c++) {
        const g = hostGeometry(c, length);
        if (g === undefined) {
          expect(classBytes(c) + 128).toBeGreaterThan(length);
          continue;
        }
        expect(g.blocks).toBeGreaterThanOrEqual(1);
        expect(g.dataOffset + g.blocks * g.blockBytes).toBeLessThanOrEqual(length);
      }
    }
  });
});

describe('SharedHeap in one thread', () => {
  it('hands out distinct, disjoint, aligned blocks of every size, and takes them back', () => {
    const heap = SharedHeap.create();
    const sizes = [0, 1, 63, 64, 65, 1000, 4096, 10_000, 65_536, 100_000, MiB, 2 * MiB, 4 * MiB];
    const views = sizes.map((n) => heap.alloc(n));
    const spans = new Map<SharedArrayBuffer, [number, number][]>();
    views.forEach((v, i) => {
      expect(v.byteLength).toBe(sizes[i]);
      expect(v.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(v.byteOffset % 16).toBe(0);
      v.fill(i + 1);
      const list = spans.get(v.buffer as SharedArrayBuffer) ?? [];
      list.push([v.byteOffset, v.byteOffset + v.byteLength]);
      spans.set(v.buffer as SharedArrayBuffer, list);
    });
    for (const list of spans.values()) {
      list.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < list.length; i++) expect(list[i]![0]).toBeGreaterThanOrEqual(list[i - 1]![1]);
    }
    for (const [i, v] of views.entries()) expect(v.every((b) => b === i + 1)).toBe(true);
    expect(heap.stats().blocks).toBe(sizes.length);
    for (const v of views) heap.free(v);
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });

  it('reuses a freed block', () => {
    const heap = SharedHeap.create();
    const a = heap.alloc(100);
    const at = a.byteOffset;
    heap.free(a);
    const b = heap.alloc(100);
    expect(b.byteOffset).toBe(at);
    heap.free(b);
    heap.close();
  });

  it('throws a TypeError for a double free and leaves the block to its new owner', () => {
    const heap = SharedHeap.create();
    const a = heap.alloc(200);
    heap.free(a);
    expect(() => heap.free(a)).toThrow(TypeError);
    expect(() => heap.free(a)).toThrow(/already free/);
    const b = heap.alloc(200);
    expect(heap.stats().blocks).toBe(1);
    heap.free(b);
    heap.close();
  });

  it('throws a TypeError for a view that is not from the heap, a subarray, or not a view', () => {
    const heap = SharedHeap.create();
    const other = SharedHeap.create();
    const a = heap.alloc(300);
    expect(() => heap.free(new Uint8Array(300))).toThrow(TypeError);
    expect(() => heap.free(new Uint8Array(new SharedArrayBuffer(4096), 64, 32))).toThrow(TypeError);
    expect(() => heap.free(a.subarray(16))).toThrow(TypeError);
    expect(() => heap.free(new Uint8Array(a.buffer, a.byteOffset, a.byteLength + 4096))).toThrow(TypeError);
    expect(() => other.free(a)).toThrow(TypeError);
    expect(() => heap.free({} as Uint8Array)).toThrow(TypeError);
    heap.free(a);
    heap.close();
    other.close();
  });

  it('free() takes back exactly the view alloc() handed out: not a prefix, another length, a neighbour, a payload block', () => {
    const heap = SharedHeap.create();
    const a = heap.alloc(300);
    const b = heap.alloc(300);
    expect(b.buffer).toBe(a.buffer); // neighbours in one segment
    const stride = b.byteOffset - a.byteOffset;
    for (const bad of [
      a.subarray(0, 100), // a prefix: its offset, a shorter length
      new Uint8Array(a.buffer, a.byteOffset, 200),
      new Uint8Array(a.buffer, a.byteOffset, stride), // the whole block, not the length alloc() gave
      new Uint8Array(a.buffer, b.byteOffset, 100), // b's block, from a's buffer, another length
      new Uint8Array(a.buffer, b.byteOffset + stride, 300), // the free block after b
    ]) {
      expect(() => heap.free(bad)).toThrow(TypeError);
    }
    expect(heap.stats().blocks).toBe(2); // nothing was freed
    // A block the codec took for a payload (allocRaw): never alloc()'s, so never free()'s.
    const off = heap.allocRaw(300);
    const payload = heap.lastSegment!;
    expect(() => heap.free(new Uint8Array(payload.buffer, off, 300))).toThrow(/not a block returned by alloc/);
    heap.freeRaw(payload.segWord, off);
    // Exactly the block and its length, through any view type, is the block; once.
    heap.free(new Uint16Array(b.buffer, b.byteOffset, 150));
    expect(() => heap.free(b)).toThrow(/already free/);
    heap.free(a);
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });

  it('says so when a request is above the largest block or the heap is full', () => {
    const heap = SharedHeap.create({ maxBytes: 2 * MiB, maxBlockBytes: 256 * KiB });
    expect(heap.tryAlloc(256 * KiB + 1)).toBeNull();
    expect(() => heap.alloc(256 * KiB + 1)).toThrow(/largest block/);
    expect(heap.allocRaw(256 * KiB + 1)).toBe(-1);
    const held: Uint8Array[] = [];
    for (let v = heap.tryAlloc(200 * KiB); v !== null; v = heap.tryAlloc(200 * KiB)) held.push(v);
    expect(held.length).toBeGreaterThan(0);
    expect(heap.stats().bytes).toBeLessThanOrEqual(2 * MiB);
    expect(() => heap.alloc(200 * KiB)).toThrow(/full/);
    expect(() => heap.alloc(-1)).toThrow(RangeError);
    expect(() => heap.alloc(1.5)).toThrow(RangeError);
    for (const v of held) heap.free(v);
    heap.close();
  });

  it('grows by segments and shrinks back to its floor when idle (second chance)', () => {
    const heap = SharedHeap.create({ floorBytes: 0, retireAfterMs: 0 });
    expect(heap.stats().bytes).toBe(0);
    const views = Array.from({ length: 40 }, () => heap.alloc(64 * KiB));
    const grown = heap.stats();
    expect(grown.segments).toBeGreaterThan(1);
    expect(grown.bytes).toBeGreaterThanOrEqual(40 * 64 * KiB);
    expect(heap.trim()).toBe(0); // in use: nothing goes
    for (const v of views) heap.free(v);
    expect(heap.trim()).toBe(0); // first sight of empty segments: marked only
    expect(heap.trim()).toBe(grown.bytes); // still empty: retired
    expect(heap.stats()).toMatchObject({ bytes: 0, segments: 0, blocks: 0 });
    const again = heap.alloc(64 * KiB); // and it grows again
    expect(heap.stats().segments).toBe(1);
    heap.free(again);
    heap.close();
  });

  it('keeps a segment used between two trims, and keeps its floor', () => {
    const heap = SharedHeap.create({ floorBytes: 2 * MiB, retireAfterMs: 0 });
    const a = heap.alloc(1000);
    heap.free(a);
    heap.trim(); // marked
    heap.free(heap.alloc(1000)); // used again: the mark is gone
    expect(heap.trim()).toBe(0);
    expect(heap.trim(true)).toBe(0); // one segment of about 1 MiB: under the floor
    expect(heap.stats().segments).toBe(1);
    heap.close();
  });

  it('shrinks an idle heap to its floor or below, largest segments first', () => {
    const heap = SharedHeap.create({ floorBytes: 2 * MiB, retireAfterMs: 0 });
    const big = heap.alloc(1400 * KiB); // a segment of four such blocks: far above the floor
    const small = heap.alloc(1000);
    const sizes = { big: heap.segmentOf(big.buffer)!.buffer.byteLength, small: heap.segmentOf(small.buffer)!.buffer.byteLength };
    expect(sizes.big).toBeGreaterThan(2 * MiB);
    heap.free(big);
    heap.free(small);
    expect(heap.trim(true)).toBe(Math.ceil(sizes.big / KiB) * KiB); // the large one goes; the small one is kept
    expect(heap.stats().bytes).toBeLessThanOrEqual(2 * MiB);
    expect(heap.stats().segments).toBe(1);
    heap.close();
  });

  it('retires a segment only once it has stayed empty for retireAfterMs', () => {
    const heap = SharedHeap.create({ floorBytes: 0, retireAfterMs: 40 });
    const t0 = performance.now();
    heap.free(heap.alloc(1000));
    expect(heap.trim()).toBe(0); // marked
    heap.free(heap.alloc(1000)); // used again: the clock restarts
    const marked = performance.now();
    expect(heap.trim()).toBe(0);
    while (performance.now() - marked < 20); // not yet 40 ms empty
    expect(heap.trim()).toBe(0);
    while (performance.now() - marked < 45); // the policy is time itself: wait it out
    expect(heap.trim()).toBeGreaterThan(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(40);
    heap.close();
  });

  it('a release round lets a garbage collection free the segments this thread dropped', async () => {
    const heap = SharedHeap.create({ floorBytes: 0, retireAfterMs: 0 });
    // The segments' objects, watched: a collection that finds them unreachable clears these.
    const segments = (() => {
      const views = Array.from({ length: 64 }, () => heap.alloc(1 * MiB).fill(1));
      for (const v of views) heap.free(v);
      return [...new Set(views.map((v) => v.buffer))].map((b) => new WeakRef(b));
    })();
    expect(heap.stats().bytes).toBeGreaterThanOrEqual(64 * MiB);
    expect(heap.trim(true)).toBeGreaterThanOrEqual(64 * MiB);
    expect(heap.stats().releasingBytes).toBeGreaterThanOrEqual(64 * MiB); // retired, not yet known collected
    expect(heap.releasePending).toBe(true);
    const token = heap.beginRelease();
    const held = await heap.collect();
    expect(held).toEqual([]);
    expect(heap.endRelease(token, held)).toBeGreaterThanOrEqual(64 * MiB);
    expect(heap.stats().releasingBytes).toBe(0);
    expect(heap.releasePending).toBe(false);
    // It said so because it is so: no object of those segments is left in this thread, so their
    // memory goes back (V8 frees a SharedArrayBuffer once no thread has an object for it).
    expect(segments.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    heap.close();
  });

  it('counts a retired segment still held (a view kept after free) until a round finds it collected', async () => {
    const heap = SharedHeap.create({ floorBytes: 0, retireAfterMs: 0 });
    let kept: Uint8Array | undefined = heap.alloc(100 * KiB);
    heap.free(kept); // and kept: its segment's memory cannot go while this view lives
    const kb = Math.ceil(heap.segmentOf(kept.buffer)!.buffer.byteLength / KiB);
    expect(heap.trim(true)).toBe(kb * KiB);
    let token = heap.beginRelease();
    let held = await heap.collect();
    expect(held.map((h) => h.kb)).toEqual([kb]);
    expect(heap.endRelease(token, held)).toBe(0);
    expect(heap.stats().releasingBytes).toBe(kb * KiB);
    kept = undefined;
    heap.trim(true); // nothing more to retire; a round still has the held segment to look at
    token = heap.beginRelease();
    held = await heap.collect();
    expect(held).toEqual([]);
    expect(heap.endRelease(token, held)).toBe(kb * KiB);
    expect(heap.stats().releasingBytes).toBe(0);
    heap.close();
  });

  it('retires no more than maxBytes until a release round says it is collected (H7)', async () => {
    const maxBytes = 4 * MiB;
    const heap = SharedHeap.create({ maxBytes, floorBytes: 0, retireAfterMs: 0, maxBlockBytes: 256 * KiB });
    let retired = 0;
    for (let round = 0; round < 12; round++) {
      (() => {
        const views = [];
        for (let v = heap.tryAlloc(200 * KiB); v !== null; v = heap.tryAlloc(200 * KiB)) views.push(v);
        for (const v of views) heap.free(v);
      })();
      retired += heap.trim(true);
      expect(heap.stats().releasingBytes).toBeLessThanOrEqual(maxBytes);
      expect(heap.stats().bytes).toBeLessThanOrEqual(maxBytes);
    }
    expect(retired).toBeLessThanOrEqual(maxBytes); // then it stopped retiring
    expect(heap.stats().releasingBytes).toBeGreaterThan(maxBytes / 2);
    const token = heap.beginRelease();
    heap.endRelease(token, await heap.collect());
    expect(heap.stats().releasingBytes).toBe(0);
    expect(heap.trim(true)).toBeGreaterThan(0); // and retires again
    heap.close();
  });

  it('at its bound, reformats an empty segment of another class instead of retiring it (H8)', () => {
    const heap = SharedHeap.create({ maxBytes: 2 * MiB, floorBytes: 0, maxBlockBytes: 256 * KiB });
    // Fill the heap with segments of one class, then empty them.
    const views: Uint8Array[] = [];
    for (let v = heap.tryAlloc(1000); v !== null; v = heap.tryAlloc(1000)) views.push(v);
    for (const v of views) heap.free(v);
    const before = heap.stats();
    const other = heap.alloc(3000); // another class: no room for a new segment
    const seg = heap.segmentOf(other.buffer)!;
    expect(seg.blockBytes).toBe(classBytes(classOf(3000)));
    expect(heap.stats()).toMatchObject({ bytes: before.bytes, segments: before.segments, releasingBytes: 0 });
    expect(heap.releasePending).toBe(false); // nothing retired
    // A view of the old class over that memory is not a block any more.
    expect(() => heap.free(views.find((v) => v.buffer === other.buffer)!)).toThrow(TypeError);
    heap.free(other);
    heap.close();
  });

  it('under its bound, retires empty segments too small for a class to make room for it', () => {
    const policy = policyFor(2 * MiB, 512 * KiB);
    const big = segmentGeometry(classOf(500 * KiB), policy);
    const heap = SharedHeap.create({ maxBytes: 2 * MiB, floorBytes: 0, maxBlockBytes: 512 * KiB });
    const views: Uint8Array[] = [];
    for (let v = heap.tryAlloc(1000); v !== null; v = heap.tryAlloc(1000)) views.push(v);
    for (const v of views) heap.free(v);
    expect(hostGeometry(classOf(500 * KiB), heap.segmentOf(views[0]!.buffer)!.buffer.byteLength)).toBeUndefined();
    const v = heap.alloc(500 * KiB); // no empty segment can hold it: some are retired for room
    expect(heap.segmentOf(v.buffer)!.buffer.byteLength).toBe(big.byteLength);
    expect(heap.stats().releasingBytes).toBeGreaterThan(0);
    expect(heap.releasePending).toBe(true);
    heap.free(v);
    heap.close();
  });

  it('checks references read from shared memory', () => {
    const heap = SharedHeap.create();
    const a = heap.alloc(1000);
    heap.allocRaw(1000);
    const seg = heap.lastSegment!;
    expect(heap.resolve(seg.segWord, a.byteOffset, 1000)).toBe(seg);
    expect(() => heap.resolve(seg.segWord, a.byteOffset, seg.blockBytes + 1)).toThrow(/outside its block/);
    expect(() => heap.resolve(seg.segWord, 3, 10)).toThrow(/outside its segment/);
    expect(() => heap.resolve(seg.segWord, seg.dataOffset + seg.blocks * seg.blockBytes, 0)).toThrow(/outside its block/);
    expect(() => heap.resolve(seg.segWord + (1 << 16), a.byteOffset, 10)).toThrow(/does not hold/);
    expect(() => heap.resolve(0xffff, a.byteOffset, 10)).toThrow(/does not hold/);
    const last = seg.dataOffset + (seg.blocks - 1) * seg.blockBytes;
    expect(() => heap.resolve(seg.segWord, last, 10)).toThrow(/free block/);
    expect(() => heap.freeRaw(seg.segWord, a.byteOffset + 1)).toThrow(RangeError);
    heap.free(a);
    heap.close();
  });

  it('rejects bad options and handles', () => {
    expect(() => SharedHeap.create({ maxBytes: 10 })).toThrow(RangeError);
    expect(() => SharedHeap.create({ maxBlockBytes: 64 * MiB, maxBytes: 64 * MiB })).toThrow(/maxBytes/);
    expect(() => SharedHeap.create({ floorBytes: -1 })).toThrow(RangeError);
    expect(() => SharedHeap.attach({ control: new SharedArrayBuffer(1024), channel: 'x', segments: [] })).toThrow(TypeError);
    expect(() => SharedHeap.attach(null as never)).toThrow(TypeError);
  });
});
