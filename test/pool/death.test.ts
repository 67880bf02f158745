// A thread's death at each instruction of its handling of a task (pool/layout.ts A6): after it took
// the task's packet and before it claimed it, after it wrote the result and before it posted it,
// while it held a task the main thread cancelled. Every run() settles, and no task runs twice.
// The thief fixture does the runtime's steps itself, so the death falls exactly there; the stress
// suite's pool scenario (timeouts in a flood) hits the same windows at random.
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError, ThreadPool, WorkerDiedError } from '../../dist/index.js';
import { fixture, openGate, RAN, shared, started, waitFor } from './helpers.js';

const STOLE = 5;
const GATE2 = 6;
const PARKED = 7;
const GATE3 = 8;

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

/** How a promise settles within `ms` — a bound for a hang, not a synchronisation. */
async function outcome<T>(promise: Promise<T>, ms = 10_000): Promise<{ value: T } | { error: unknown } | 'pending'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms);
  });
  const settled = promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  const result = await Promise.race([settled, pending]);
  clearTimeout(timer);
  return result;
}

/** One thread, busy in the thief's handler until the test opens the gate; the task to steal queued behind it. */
async function thiefWithTask(op: string, options: { slots?: number; signal?: AbortSignal } = {}) {
  const { sab, words } = shared();
  const pool = new ThreadPool({ filename: fixture('thief.mjs'), threads: 1, slots: options.slots, workerData: { sab } });
  pools.push(pool);
  const thief = pool.run({ op });
  await started(words, 1);
  const victim = pool.run({ op: 'count', value: 'ran' }, { signal: options.signal });
  // Handshake: its packet is in the port, and the only thread is in the thief's handler.
  await waitFor(() => pool.port.stats().queued === 1, 'the task queued behind the thief');
  return { pool, words, thief, victim };
}

describe("a pool thread's death while it holds a task", () => {
  it.each([1, 2, 3, 4, 5])('after it took the packet, before its claim: the task runs on the replacement, once (round %i)', async () => {
    const { pool, words, thief, victim } = await thiefWithTask('steal');
    openGate(words);
    const died = await outcome(thief);
    expect(died).toHaveProperty('error');
    expect((died as { error: unknown }).error).toBeInstanceOf(WorkerDiedError);
    expect(Atomics.load(words, STOLE)).toBeGreaterThan(0); // the thief took the task's packet
    expect(await outcome(victim)).toEqual({ value: 'ran' });
    expect(Atomics.load(words, RAN)).toBe(1);
    expect(await pool.run({ op: 'count', value: 'after' })).toBe('after');
    expect(pool.stats().threads).toBe(1);
  });

  it.each([1, 2, 3, 4, 5])(
    'after it marked the result done, before it posted it: the result is delivered, and the task is not run again (round %i)',
    async () => {
      const { pool, words, thief, victim } = await thiefWithTask('finish');
      openGate(words);
      expect((await outcome(thief)) as { error: unknown }).toHaveProperty('error');
      expect(await outcome(victim)).toEqual({ value: 'finished before its thread died' });
      expect(await pool.run({ op: 'count', value: 'after' })).toBe('after');
      expect(Atomics.load(words, RAN)).toBe(1); // only 'after' ran a handler
    },
  );

  it.each([1, 2, 3])('holding a task the main thread cancelled: the run() rejects once, and its slot comes back (round %i)', async () => {
    // Two slots: the thief's and the victim's. If the victim's were never freed, the second of
    // the two tasks below would wait for a slot for good.
    const controller = new AbortController();
    const { pool, words, thief, victim } = await thiefWithTask('steal-wait', { slots: 2, signal: controller.signal });
    openGate(words);
    await waitFor(() => Atomics.load(words, STOLE) > 0, 'the thief holds the packet');
    controller.abort();
    const aborted = await outcome(victim);
    expect((aborted as { error: unknown }).error).toBeInstanceOf(AbortError);
    Atomics.store(words, GATE2, 1);
    Atomics.notify(words, GATE2);
    expect((await outcome(thief)) as { error: unknown }).toHaveProperty('error');
    // Both slots at once: two tasks that each hold theirs until the gate opens.
    const parked = Promise.all([pool.run({ op: 'park', value: 1 }), pool.run({ op: 'park', value: 2 })]);
    await waitFor(() => Atomics.load(words, PARKED) === 2, 'two tasks holding both slots', 10_000);
    Atomics.store(words, GATE3, 1);
    expect(await outcome(parked)).toEqual({ value: [1, 2] });
    expect(Atomics.load(words, RAN)).toBe(0); // the cancelled task never ran
  });
});
