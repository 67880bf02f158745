// The task arena's size: slots and slotBytes each have a range, and so does their product.
import { describe, expect, it } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { fixture } from './helpers.js';

describe('options.slots × options.slotBytes', () => {
  it('an arena of 2 GiB or more is a RangeError naming both options and the limit, before any memory is taken', () => {
    const filename = fixture('heap-ops.mjs');
    // Each in its documented range (slots ≤ 2^20, slotBytes ≤ 2^20); together 2 GiB, 4 GiB, 1 TiB.
    for (const [slots, slotBytes] of [
      [2048, 1 << 20],
      [4096, 1 << 20],
      [1 << 20, 4096],
      [1 << 20, 1 << 20],
    ]) {
      const make = () => new ThreadPool({ filename, threads: 1, slots, slotBytes });
      expect(make).toThrow(RangeError);
      expect(make).toThrow(/options\.slots × options\.slotBytes/);
      expect(make).toThrow(/at most 2147483584 bytes/);
      expect(make).not.toThrow(/typed array|Start offset|allocation failed/);
    }
  });

  it('the largest arena that fits works, its last slot included', async () => {
    // 2047 slots of 1 MiB: just under the limit. Slots are taken in order, so fill them all.
    const pool = new ThreadPool({ filename: fixture('heap-ops.mjs'), threads: 1, slots: 2047, slotBytes: 1 << 20 });
    try {
      const payload = 'x'.repeat(1000);
      const backs = await Promise.all(Array.from({ length: 2047 }, () => pool.run(payload)));
      expect(backs.every((b) => b === payload)).toBe(true);
    } finally {
      await pool.destroy();
    }
  });
});
