// The result loop sleeps on the arena's result counter (pool/layout.ts A8), not in the result port: the
// thread that posts next wakes it, and no result is ever left unseen beside a sleeping main thread.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CompletionPort, ThreadPool } from '../../dist/index.js';
import { fixture } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the result loop between sparse results', () => {
  it('sleeps without waiting in the result port (a post there takes no waiter, no lock hand-off)', async () => {
    // The class of the ports this platform's pool makes (the portable one here): its getAsync is the port's wait.
    const probe = new CompletionPort({ concurrency: 1 });
    const getAsync = vi.spyOn(Object.getPrototypeOf(probe) as { getAsync: CompletionPort['getAsync'] }, 'getAsync');
    probe.close();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2 });
    try {
      // Tasks of 2 ms, one at a time: each result comes long after the loop has gone to sleep.
      for (let i = 0; i < 20; i++) expect(await pool.run({ op: 'busy', ms: 2, value: i })).toBe(i);
      expect(getAsync).not.toHaveBeenCalled();
    } finally {
      await pool.destroy();
    }
  });

  it('misses no wake-up: results finishing together, alone and in pairs, over many rounds', async () => {
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2 });
    try {
      for (let round = 0; round < 600; round++) {
        // Tasks of different lengths end at every offset from the loop going to sleep; a lost wake-up hangs here.
        const ms = 0.02 + (round % 7) * 0.03;
        const n = 1 + (round % 3);
        const values = await Promise.all(Array.from({ length: n }, (_, k) => pool.run({ op: 'busy', ms: ms * (k + 1), value: round * 3 + k })));
        expect(values).toEqual(Array.from({ length: n }, (_, k) => round * 3 + k));
      }
    } finally {
      await pool.destroy();
    }
  }, 60_000);
});
