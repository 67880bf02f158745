// The portable backend's ring at the edge its tests cannot reach by posting:
// positions count modulo 2^30 (layout.ts), so a long-lived port wraps them.
// These tests start a port's ring just below the wrap and check FIFO order
// and the capacity bound across it, for a power-of-two capacity (the ring's
// own cells bound it) and for one that is not (the packet capacity back does).
import { describe, expect, it } from 'vitest';
import { CompletionPort } from '../../dist/index.js';
import { CELL_WORDS, geometry, POS_MASK, S_DEQ, S_ENQ } from '../../src/port/portable/layout.js';

const MAX_THREADS = 8;

/** Moves an empty, unused port's ring to position `pos`, as if pos packets had passed through it. */
function startRingAt(port: CompletionPort, capacity: number, pos: number): void {
  const i32 = new Int32Array(port.handle.buffer as SharedArrayBuffer);
  const geo = geometry(capacity, MAX_THREADS);
  const mask = geo.ringSize - 1;
  i32[S_ENQ] = pos;
  i32[S_DEQ] = pos;
  // Each cell is free for the position it will hold next (C_SEQ = position).
  for (let p = pos; p < pos + geo.ringSize; p++) i32[geo.cellBase + (p & mask) * CELL_WORDS] = p & POS_MASK;
}

describe('CompletionPort ring positions (portable backend)', () => {
  for (const capacity of [64, 100]) {
    it(`keeps FIFO order and capacity ${capacity} across the 2^30 position wrap`, () => {
      const port = new CompletionPort({ capacity, concurrency: 1, maxThreads: MAX_THREADS });
      startRingAt(port, capacity, POS_MASK - 150);
      let next = 0;
      let expected = 0;
      // Fill and empty it several times: the positions cross the wrap in the second round.
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < capacity; i++) expect(port.post(1, next++, 0)).toBe(true);
        expect(port.post(1, -1, 0)).toBe(false);
        expect(port.stats().queued).toBe(capacity);
        for (let i = 0; i < capacity; i++) expect(port.get(0)?.completionKey).toBe(expected++);
        expect(port.get(0)).toBe(null);
      }
      // Then uneven: 3 in, 2 out, so the queue's length and position both move.
      for (let i = 0; i < 300; i++) {
        for (let k = 0; k < 3; k++) {
          if (port.stats().queued < capacity) expect(port.post(1, next++, 0)).toBe(true);
        }
        for (let k = 0; k < 2; k++) expect(port.get(0)?.completionKey).toBe(expected++);
      }
      const rest = port.close().map((p) => p.completionKey);
      expect(rest).toEqual(Array.from({ length: next - expected }, (_, i) => expected + i));
    });
  }
});
