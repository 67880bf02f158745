// pool.histograms(): the sampled run and wait times as perf_hooks histograms (µs).
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { fixture } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

describe('ThreadPool: histograms()', () => {
  it('holds every sampled run time and wait time, in microseconds, with mean, stddev, min, max and percentiles', async () => {
    const pool = new ThreadPool({ filename: fixture('sync-ops.mjs'), threads: 1 });
    pools.push(pool);
    const { runTime, waitTime } = pool.histograms();
    expect(runTime.count).toBe(0);
    // One at a time (each sampled: the first 64 tasks are), each busy for at least 3 ms.
    for (let i = 0; i < 20; i++) expect(await pool.run({ op: 'busy', ms: 3, value: i })).toBe(i);
    expect(pool.histograms().runTime).toBe(runTime); // live, the same object
    expect(runTime.count).toBe(20);
    expect(waitTime.count).toBe(20);
    expect(runTime.min).toBeGreaterThanOrEqual(3000);
    expect(runTime.mean).toBeGreaterThanOrEqual(3000);
    expect(runTime.max).toBeGreaterThanOrEqual(runTime.percentile(50));
    expect(runTime.percentile(50)).toBeGreaterThanOrEqual(3000);
    expect(Number.isFinite(runTime.stddev)).toBe(true);
    expect(waitTime.min).toBeGreaterThanOrEqual(1);
    // The same samples as stats()' percentiles (those in ms).
    const stats = pool.stats();
    expect(stats.runTime.samples).toBe(runTime.count);
    expect(Math.abs(stats.runTime.max * 1000 - runTime.max)).toBeLessThanOrEqual(runTime.max * 0.01 + 1);
  });
});
