/**
 * runTime, waitTime and utilization from the ThreadPool's stats(). The pool samples its timings
 * (every one of the first 64 tasks, then one in 16, the latest 1 024 samples) and reports
 * percentiles: the summary holds what it measures, no field it does not.
 */
import type { ThreadPoolStats } from 'iocp-pool';

/** A timing summary in milliseconds: `pool.runTime`, `pool.waitTime`. */
export interface TimingSummary {
  /** Samples the percentiles are computed over. */
  count: number;
  /** The median. */
  p50: number;
  /** The 90th percentile. */
  p90: number;
  /** The 99th percentile. */
  p99: number;
  /** The largest sample. */
  max: number;
}

/** The summary of one of stats()' timings. */
export function summary(p: ThreadPoolStats['runTime']): TimingSummary {
  return { count: p.samples, p50: p.p50, p90: p.p90, p99: p.p99, max: p.max };
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
