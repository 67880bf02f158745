/**
 * Spin or sleep? The one-at-a-time round trip, tuned by measuring it.
 *
 * When a caller awaits each run() before the next, a task's round trip is
 * dominated by two hand-offs: main → thread (the thread is spinning on the
 * port, or asleep in Atomics.wait) and thread → main (the main thread is
 * spinning on the result counter, or asleep in Atomics.waitAsync). Spinning
 * on both sides gives ~1 µs on an idle machine; a futex wake-up on each side
 * costs ~10-20 µs. But on a loaded 2-core machine a spinning thread takes the
 * core the other side needs to make progress, and spinning becomes the slower
 * choice. Neither side can see the load, so the main thread measures instead:
 * it keeps the mean round trip of the current mode over an epoch of tasks,
 * now and then tries the other mode for one epoch, and keeps whichever was
 * faster. The choice is published in the arena word A_SPIN for the threads.
 *
 * Only round trips of tasks submitted while few were in flight are sampled
 * (with the pipe full, hand-offs are not on the critical path).
 */

/** Round trips per measurement. */
const EPOCH = 256;
/** Epochs in the current mode between two trials of the other. */
const TRIAL_EVERY = 16;
/** A trial must be this much faster to win (noise must not flip the mode back and forth). */
const MARGIN = 0.9;

export class SpinPolicy {
  /** 1: spin (main thread and pool threads); 0: sleep at once. */
  mode = 1;
  #sum = 0;
  #count = 0;
  #epochs = 0;
  #trial = false;
  #baseline = Infinity;

  /**
   * Adds one round trip (ms). Returns true when the mode changed (the
   * caller publishes it).
   */
  sample(roundTrip: number): boolean {
    this.#sum += roundTrip;
    if (++this.#count < EPOCH) return false;
    const mean = this.#sum / this.#count;
    this.#sum = 0;
    this.#count = 0;
    if (this.#trial) {
      this.#trial = false;
      this.#epochs = 0;
      if (mean < this.#baseline * MARGIN) return false; // the trial mode won: keep it
      this.mode ^= 1;
      return true;
    }
    this.#baseline = mean;
    if (++this.#epochs < TRIAL_EVERY) return false;
    this.#trial = true;
    this.mode ^= 1;
    return true;
  }
}
