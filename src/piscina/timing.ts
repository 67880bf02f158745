/**
 * runTime, waitTime and utilization from the ThreadPool. The pool samples its timings (every one of
 * the first 64 tasks, then one in 16) into perf_hooks histograms (pool.histograms(), µs): the
 * summary is piscina's, in milliseconds.
 */
import type { Histogram } from 'node:perf_hooks';
import type { ThreadPoolStats } from 'iocp-pool';

/** A timing summary in milliseconds, as piscina's `pool.runTime` and `pool.waitTime`. */
export interface TimingSummary {
  /** Samples taken. */
  count: number;
  /** The mean. */
  average: number;
  /** The mean (piscina has both names). */
  mean: number;
  /** The standard deviation. */
  stddev: number;
  /** The smallest sample. */
  min: number;
  /** The largest sample. */
  max: number;
  /** The 0.001th percentile. */
  p0_001: number;
  /** The 0.01th percentile. */
  p0_01: number;
  /** The 0.1th percentile. */
  p0_1: number;
  /** The 1st percentile. */
  p1: number;
  /** The 2.5th percentile. */
  p2_5: number;
  /** The 10th percentile. */
  p10: number;
  /** The 25th percentile. */
  p25: number;
  /** The 50th (the median) percentile. */
  p50: number;
  /** The 75th percentile. */
  p75: number;
  /** The 90th percentile. */
  p90: number;
  /** The 97.5th percentile. */
  p97_5: number;
  /** The 99th percentile. */
  p99: number;
  /** The 99.9th percentile. */
  p99_9: number;
  /** The 99.99th percentile. */
  p99_99: number;
  /** The 99.999th percentile. */
  p99_999: number;
}

const PERCENTILES = [
  ['p0_001', 0.001],
  ['p0_01', 0.01],
  ['p0_1', 0.1],
  ['p1', 1],
  ['p2_5', 2.5],
  ['p10', 10],
  ['p25', 25],
  ['p50', 50],
  ['p75', 75],
  ['p90', 90],
  ['p97_5', 97.5],
  ['p99', 99],
  ['p99_9', 99.9],
  ['p99_99', 99.99],
  ['p99_999', 99.999],
] as const;

/** The summary of one of the pool's histograms (µs) in ms; all zero before the first sample (an empty histogram's min is 2^63). */
export function summary(h: Histogram): TimingSummary {
  const empty = h.count === 0;
  const ms = (us: number): number => (empty ? 0 : us / 1000);
  const out = { count: h.count, average: ms(h.mean), mean: ms(h.mean), stddev: ms(h.stddev), min: ms(h.min), max: ms(h.max) } as TimingSummary;
  for (const [key, p] of PERCENTILES) out[key] = ms(h.percentile(p));
  return out;
}

/**
 * Utilization since the pool started, as piscina defines it (busy time over duration ×
 * maxThreads), from the ThreadPool's, which covers the interval since its previous stats():
 * every stats() call goes through here and adds that interval's busy time.
 */
export class Utilization {
  #busyMs = 0;
  #since: number;

  constructor(start: number) {
    this.#since = start;
  }

  /** Adds the busy time of the interval a stats() result covers. */
  add(stats: ThreadPoolStats): void {
    const now = performance.now();
    this.#busyMs += stats.utilization * stats.threads * (now - this.#since);
    this.#since = now;
  }

  /** Busy time over `durationMs` × `maxThreads`. */
  value(durationMs: number, maxThreads: number): number {
    return durationMs > 0 ? this.#busyMs / (durationMs * maxThreads) : 0;
  }
}
