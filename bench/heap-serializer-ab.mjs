/**
 * Does the heap-aware serializer slow down values that hold no heap view?
 * One side of a paired whole-process A/B: `node bench/heap-serializer-ab.mjs v8`
 * serializes with v8.serialize, `... heap` with HeapSerializer, 300,000 times
 * (half { a: 1 }, half the 16 small objects), after the same warm-up of the
 * slot codec with every kind of value (views, out-of-line copies, strings).
 * Compare the two with /usr/bin/time -v (or any paired runner), several runs
 * each, alternating. In-process timings of the two in one process proved
 * unreliable: they depend on what ran before.
 */
import v8 from 'node:v8';
import { register } from 'tsx/esm/api';
register();
const { HeapSerializer } = await import('../src/codec/heap-serializer.ts');
const { SharedHeap } = await import('../src/heap/heap.ts');
const { SlotCodec } = await import('../src/codec/slot-codec.ts');
const { arenaGeometry, slotWord } = await import('../src/pool/layout.ts');
const { smallObjects } = await import('./lib/payloads.mjs');
const mode = process.argv[2];
const heap = SharedHeap.create();
const g = arenaGeometry(1, 256);
const codec = new SlotCodec(new SharedArrayBuffer(g.byteLength), 1, g.slotBytes, heap);
const w = slotWord(g.slotBytes, 0);
const view = heap.alloc(1000);
for (let i = 0; i < 2000; i++)
  for (const v of [{ a: [1, 2] }, 'x'.repeat(5000), new Uint8Array(70000), { view }, { big: new Uint8Array(20000) }]) {
    codec.encode(w, v);
    codec.decode(w);
  }
const values = [{ a: 1 }, smallObjects()];
let n = 0;
for (let i = 0; i < 300000; i++) {
  const value = values[i & 1];
  if (mode === 'v8') n += v8.serialize(value).length;
  else {
    const s = new HeapSerializer(heap);
    s.writeHeader();
    s.writeValue(value);
    n += s.releaseBuffer().length;
  }
}
console.log(n);
