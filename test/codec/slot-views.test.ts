// The arena codec: what a slot gives back belongs to the caller, not to the arena.
import { afterEach, expect, it } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { SlotCodec } from '../../src/codec/slot-codec.js';
import { arenaGeometry, slotWord } from '../../src/pool/layout.js';
import { fixture } from '../pool/helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

it('decodes typed arrays into memory of their own, not views of the slot', () => {
  const g = arenaGeometry(2, 256);
  const views = new SlotCodec(new SharedArrayBuffer(g.byteLength), 2, g.slotBytes, undefined);
  const w = slotWord(g.slotBytes, 0);
  views.encode(w, { a: new Uint8Array([1, 2, 3]), b: new Float64Array([1.5]) });
  const value = views.decode(w) as { a: Uint8Array; b: Float64Array };
  views.encode(w, { a: new Uint8Array(64).fill(9), s: 'the next task in the same slot' });
  expect(Array.from(value.a)).toEqual([1, 2, 3]);
  expect(Array.from(value.b)).toEqual([1.5]);
  expect(value.a.buffer).not.toBeInstanceOf(SharedArrayBuffer);
  expect(value.a.buffer.byteLength).toBe(3);
});

it('gives a handler a typed array that later tasks cannot overwrite', async () => {
  const pool = new ThreadPool({ filename: fixture('keep-view.mjs'), threads: 1 });
  pools.push(pool);
  expect(await pool.run({ keep: new Uint8Array([1, 2, 3]) })).toEqual({ shared: false, bufferBytes: 3 });
  for (let i = 0; i < 20; i++) await pool.run({ filler: new Uint8Array(100).fill(i) });
  expect(await pool.run({ read: true })).toEqual([1, 2, 3]);
});

it('keeps lone surrogates in a string of every length that fits a slot (17–108 UTF-16 units were U+FFFD)', () => {
  const g = arenaGeometry(2, 256);
  const views = new SlotCodec(new SharedArrayBuffer(g.byteLength), 2, g.slotBytes, undefined);
  const w = slotWord(g.slotBytes, 1);
  for (let n = 1; n <= 108; n++) {
    for (const lone of ['\ud800', '\udfff']) {
      for (const s of [lone + 'a'.repeat(n - 1), 'é'.repeat(n - 1) + lone]) {
        views.encode(w, s);
        expect(views.decode(w)).toBe(s);
      }
    }
  }
});
