/**
 * stats().utilization: the fraction of an interval the pool's threads spent
 * in handlers, estimated without a clock read per task — the tasks completed
 * in the interval times the mean run time of those whose timing was sampled
 * (F_TIMED: the first 64 tasks, then one in 16), over threads × the interval.
 * An async handler counts while it awaits.
 */
export class Utilization {
  #completed = 0;
  #sampledRunTime = 0;
  #samples = 0;
  #intervalStart = performance.now();

  /** A task completed; `runTime` (ms) when its timing was sampled, else a negative number. */
  count(runTime: number): void {
    this.#completed++;
    if (runTime >= 0) {
      this.#sampledRunTime += runTime;
      this.#samples++;
    }
  }

  /** The fraction (0…1) of the interval since the last call that `threads` threads spent in handlers; starts a new interval. */
  take(threads: number): number {
    const now = performance.now();
    const elapsed = now - this.#intervalStart;
    const busy = this.#samples === 0 ? 0 : this.#completed * (this.#sampledRunTime / this.#samples);
    this.#intervalStart = now;
    this.#completed = this.#sampledRunTime = this.#samples = 0;
    if (threads === 0 || elapsed <= 0) return 0;
    return Math.min(1, busy / (threads * elapsed));
  }
}
