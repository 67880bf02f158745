// Shared helpers for the pool tests: fixtures, shared words, and handshakes (never sleeps that hope).
import { randomFillSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { ThreadPool } from '../../dist/index.js';

export const STARTED = 0;
export const GATE = 1;
export const COUNTER = 2;
export const FLAG = 3;
export const RAN = 4;

export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

export const KiB = 1024;
export const MiB = 1024 * KiB;

type PoolOptions = Partial<ConstructorParameters<typeof ThreadPool>[0]>;

/**
 * The heap tests' pools: heap-ops.mjs on 2 threads unless `options` say otherwise, each destroyed
 * after its test. Call it once at the top of a test file (it registers the afterEach).
 * `expectDeaths`: the file kills threads on purpose, so the pool's 'error' event is listened to
 * (and ignored) rather than turned into process warnings.
 */
export function heapPools({ expectDeaths = false } = {}): (options?: PoolOptions) => ThreadPool {
  const pools: ThreadPool[] = [];
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.destroy()));
  });
  return (options = {}) => {
    const pool = new ThreadPool({ filename: fixture('heap-ops.mjs'), threads: 2, ...options });
    if (expectDeaths) pool.on('error', () => {});
    pools.push(pool);
    return pool;
  };
}

/** n random bytes (a fresh payload: never the same object or contents twice). */
export function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) randomFillSync(b, at, Math.min(65536, n - at));
  return b;
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
 * Runs one task that must end by its timeout, and waits until the thread it stopped has exited.
 * A timed-out thread is asked to leave and terminated a moment later (threads.ts, STOP_WAIT_MS):
 * until then it still runs its handler, so `stats().threads` still counts it and the heap still
 * sees its allocations. Its replacement is spawned only when its exit is handled, so "a thread
 * that was not there before the task" is the handshake for "the stopped thread is gone".
 */
export async function stoppedAndReplaced(
  pool: { threadInfo(): { threadId: number }[]; stats(): { threads: number } },
  task: () => Promise<unknown>,
  threads: number,
): Promise<unknown> {
  const before = new Set(pool.threadInfo().map((t) => t.threadId));
  const reason = await task().then(
    () => {
      throw new Error('the task was meant to be stopped by its timeout, and it returned');
    },
    (error: unknown) => error,
  );
  await waitFor(
    () => pool.stats().threads === threads && pool.threadInfo().some((t) => !before.has(t.threadId)),
    'the stopped thread to exit and be replaced',
  );
  return reason;
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
