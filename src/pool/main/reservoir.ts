/**
 * A fixed reservoir of the latest samples, for percentiles in stats(): no allocation per sample.
 * Every sample also goes into a perf_hooks histogram (all samples since the start, in µs), for
 * pool.histograms(): mean, stddev, min and any percentile.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { Percentiles } from '../types.js';

export class Reservoir {
  readonly #values: Float64Array;
  #count = 0;
  /** Every sample, in whole microseconds (a perf_hooks histogram holds integers ≥ 1). */
  readonly histogram: RecordableHistogram = createHistogram();

  constructor(size = 1024) {
    this.#values = new Float64Array(size);
  }

  add(value: number): void {
    this.#values[this.#count++ % this.#values.length] = value;
    this.histogram.record(Math.max(1, Math.round(value * 1000)));
  }

  percentiles(): Percentiles {
    const n = Math.min(this.#count, this.#values.length);
    if (n === 0) return { samples: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    const sorted = this.#values.slice(0, n).sort();
    const at = (q: number): number => sorted[Math.min(n - 1, Math.floor(q * n))]!;
    return { samples: this.#count, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1]! };
  }
}
