import { describe, expect, it } from 'vitest';
import { main } from '../../examples/thread-pool.js';

describe('examples/thread-pool.ts (the CThreadPools class of the original articles)', () => {
  it.each([
    [1000, 2],
    [20000, 2],
    [5000, 4],
  ])('handles every one of %i requests on %i threads before close() resolves', async (requests, threads) => {
    const lines: string[] = [];
    const result = await main(requests, threads, (line) => lines.push(line));
    expect(result).toEqual({ requests, handled: requests, everyHandledOnce: true });
    expect(lines[0]).toMatch(new RegExp(`handled ${requests} of ${requests}`));
  });
});
