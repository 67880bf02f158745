// The shared heap in one thread: size classes, alloc/free, misuse, growth, shrinking, bounds.
import { describe, expect, it } from 'vitest';
import { SharedHeap } from '../../src/heap/heap.js';
import { CLASS_COUNT, classBytes, classOf, MAX_BLOCK_LIMIT, MIN_BLOCK, segmentGeometry } from '../../src/heap/layout.js';

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
    for (let c = 0; c < CLASS_COUNT; c++) {
      const g = segmentGeometry(c);
      expect(g.dataOffset % 64).toBe(0);
      expect(g.bitmapWords * 32).toBeGreaterThanOrEqual(g.blocks);
      expect(g.lengthsWord).toBe(16 + g.bitmapWords);
      expect(g.dataOffset).toBeGreaterThanOrEqual((g.lengthsWord + g.blocks) * 4);
      expect(g.byteLength).toBe(g.dataOffset + g.blocks * g.blockBytes);
      expect(g.blocks).toBeGreaterThanOrEqual(4);
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

  it('releaseMemory() lets a garbage collection free the segments this thread dropped', async () => {
    const heap = SharedHeap.create({ floorBytes: 0, retireAfterMs: 0 });
    const before = process.memoryUsage().arrayBuffers;
    (() => {
      const views = Array.from({ length: 64 }, () => heap.alloc(1 * MiB).fill(1));
      for (const v of views) heap.free(v);
    })();
    expect(heap.stats().bytes).toBeGreaterThanOrEqual(64 * MiB);
    expect(heap.trim(true)).toBeGreaterThanOrEqual(64 * MiB);
    expect(heap.releaseMemory()).toBeGreaterThanOrEqual(64 * MiB);
    expect(heap.releaseMemory()).toBe(0); // nothing more to let go
    // The collection it starts is incremental: it finishes on this thread's event loop.
    const t0 = performance.now();
    while (process.memoryUsage().arrayBuffers - before >= 16 * MiB && performance.now() - t0 < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * MiB);
    heap.close();
  });

  it('under its bound, retires empty segments of other classes to make room', () => {
    const g = segmentGeometry(classOf(300 * KiB));
    const heap = SharedHeap.create({ maxBytes: g.kb * 1024 + 256 * KiB, maxBlockBytes: 300 * KiB, floorBytes: 0 });
    const small = heap.alloc(100);
    heap.free(small);
    const big = heap.alloc(300 * KiB); // needs the small segment's room
    expect(heap.stats().segments).toBe(1);
    heap.free(big);
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
