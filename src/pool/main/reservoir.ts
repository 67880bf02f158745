/** A fixed reservoir of the latest samples, for percentiles in stats(): no allocation per sample. */
import type { Percentiles } from '../types.js';

export class Reservoir {
  readonly #values: Float64Array;
  #count = 0;

  constructor(size = 1024) {
    this.#values = new Float64Array(size);
  }

  add(value: number): void {
    this.#values[this.#count++ % this.#values.length] = value;
  }

  percentiles(): Percentiles {
    const n = Math.min(this.#count, this.#values.length);
    if (n === 0) return { samples: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    const sorted = this.#values.slice(0, n).sort();
    const at = (q: number): number => sorted[Math.min(n - 1, Math.floor(q * n))]!;
    return { samples: this.#count, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1]! };
  }
}
