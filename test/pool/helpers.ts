// Shared helpers for the pool tests: fixtures, shared words, and handshakes (never sleeps that hope).
import { fileURLToPath } from 'node:url';

export const STARTED = 0;
export const GATE = 1;
export const COUNTER = 2;
export const FLAG = 3;
export const RAN = 4;

export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

export function shared(): { sab: SharedArrayBuffer; words: Int32Array } {
  const sab = new SharedArrayBuffer(64);
  return { sab, words: new Int32Array(sab) };
}

/** Polls cond until it holds (a handshake on state the code under test publishes); fails after ms. */
export async function waitFor(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Waits until at least n handlers reached their start point (word STARTED). */
export async function started(words: Int32Array, n: number): Promise<void> {
  await waitFor(() => Atomics.load(words, STARTED) >= n, `${n} handler(s) to start`);
}

export function openGate(words: Int32Array): void {
  Atomics.store(words, GATE, 1);
  Atomics.notify(words, GATE);
}

/**
 * The heap's block count once the same traffic no longer changes it: a stopped thread's
 * after-effects (a segment it created reaching this thread's directory by a message, a stopped
 * task's slot discarded when its death is handled) land at their own time, so one pass may still
 * see one of them. Runs `traffic` until two passes in a row end at the same count (at most
 * `passes`); a leak per pass never settles and fails here.
 */
export async function settledBlocks(blocks: () => number, traffic: () => Promise<void>, passes = 6): Promise<number> {
  await traffic();
  let before = blocks();
  const seen = [before];
  for (let i = 1; i < passes; i++) {
    await traffic();
    const now = blocks();
    seen.push(now);
    if (now === before) return now;
    before = now;
  }
  throw new Error(`the heap's block count never settled over ${passes} passes of the same traffic: ${seen.join(', ')}`);
}
