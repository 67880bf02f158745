// getAsync's `behind` option (portable backend): a waiter ranked behind the others. A packet goes
// to the waiter of the smallest rank — ordinary waiters (rank 0) first, LIFO — and among equal
// ranks to the newest; a call that comes back while packets are queued takes one only if no
// lighter waiter waits. The waiter stack keeps that order through timeouts, thread deaths, and a
// lock holder killed in the middle of a ranked push (layout.ts I3, repair.ts rebuildAfterDeath).
import { afterEach, describe, expect, it } from 'vitest';
import { CompletionPort, type CompletionPacket } from '../../dist/index.js';
import { geometry, S_WAITING, SLOT_SLEEPING, SLOT_WORDS, STACK_BASE, W_BEHIND, W_STATE } from '../../src/port/portable/layout.js';
import { rebuildAfterDeath } from '../../src/port/portable/repair.js';
import { type Agent, startAgent, until } from './agents.js';

const RACE_ROUNDS = 20;
const workers: Agent[] = [];
const ports: CompletionPort[] = [];
afterEach(async () => {
  const stopped = workers.splice(0);
  await Promise.all(stopped.map(({ worker }) => worker.terminate()));
  // An agent terminated here may have been inside a port call (the detach() at the end of its
  // body, say) and died holding the port's lock. Its exit must be handled (releaseThread) before
  // this thread's next call on that port, as the pool does for its own threads; a close() first
  // would wait for that lock for ever.
  for (const port of ports.splice(0)) {
    for (const { threadId } of stopped) port.releaseThread(threadId);
    port.close();
  }
});

function makePort(options: { concurrency: number; capacity?: number; maxThreads?: number }): CompletionPort {
  const port = new CompletionPort(options);
  ports.push(port);
  return port;
}

function agent(port: CompletionPort, words: Int32Array, body: string, data: unknown = null): Agent {
  return startAgent(workers, port, words, body, data);
}

/** An agent that waits once with getAsync({ behind: rank }) and records the key it got in words[slot]. */
const WAIT_ONCE = `async (port, words, { rank, slot }) => {
  const packet = await port.getAsync(undefined, { behind: rank });
  Atomics.store(words, slot, packet.completionKey);
  port.detach();
}`;

/** Posts keys 1…n one at a time; returns, for each wait, the key it got. */
async function releaseAll(port: CompletionPort, waits: Promise<CompletionPacket | null>[]): Promise<number[]> {
  for (let k = 1; k <= waits.length; k++) port.post(0, k, 0);
  return (await Promise.all(waits)).map((p) => p!.completionKey);
}

/** The ranks of the waiter stack, bottom to top, read from the port's memory. */
function stackRanks(port: CompletionPort, maxThreads: number): number[] {
  const i32 = new Int32Array((port.handle as { buffer: SharedArrayBuffer }).buffer);
  const geo = geometry(port.capacity, maxThreads);
  const out: number[] = [];
  for (let i = 0; i < i32[S_WAITING]!; i++) out.push(i32[geo.slotBase + i32[STACK_BASE + i]! * SLOT_WORDS + W_BEHIND]!);
  return out;
}

describe('CompletionPort.getAsync({ behind }) (portable backend)', () => {
  it('releases ordinary waiters first, newest first, then the waiters behind them, lightest first and newest first among equals', async () => {
    const port = makePort({ concurrency: 8 });
    const ranks = [0, 1, 2, 0, 1, true, 3, false] as const;
    const waits = ranks.map((behind) => port.getAsync(undefined, { behind }));
    expect(port.stats().waiting).toBe(8);
    const got = await releaseAll(port, waits);
    // Waits in release order: 7 and 3 and 0 (ordinary, newest first), 5 and 4 and 1 (rank 1), 2, 6.
    const order = [7, 3, 0, 5, 4, 1, 2, 6];
    expect(order.map((w) => got[w])).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it.each([
    { theirs: 0, mine: 1, taker: 'the lighter waiter' },
    { theirs: 1, mine: 2, taker: 'the lighter waiter' },
    { theirs: 2, mine: 2, taker: 'the thread that comes back' },
    { theirs: 3, mine: 2, taker: 'the thread that comes back' },
    { theirs: 0, mine: 0, taker: 'the thread that comes back' },
  ])(
    'a packet queued when a running thread comes back to wait with rank $mine, a waiter of rank $theirs waiting: $taker takes it',
    async ({ theirs, mine, taker }) => {
      // Concurrency 1: this thread runs (it took a packet), so the next one queues beside the
      // agent's wait. Giving its slot back, this thread would take the queued packet at once —
      // lock-free, as a running thread does — unless a lighter waiter waits.
      const port = makePort({ concurrency: 1 });
      const words = new Int32Array(new SharedArrayBuffer(16));
      port.post(0, 1, 0);
      expect(port.get(0)?.completionKey).toBe(1);
      agent(port, words, WAIT_ONCE, { rank: theirs, slot: 0 });
      await until(() => port.stats().waiting === 1, 'the agent waits');
      port.post(0, 2, 0);
      expect(port.stats()).toMatchObject({ queued: 1, running: 1 });
      const mine$ = port.getAsync(undefined, { behind: mine });
      if (taker === 'the lighter waiter') {
        await until(() => Atomics.load(words, 0) === 2, 'the agent got the queued packet');
        expect(port.stats().waiting).toBe(1); // this thread waits, behind
        port.post(0, 3, 0);
        expect((await mine$)?.completionKey).toBe(3);
      } else {
        expect((await mine$)?.completionKey).toBe(2);
        expect(Atomics.load(words, 0)).toBe(0);
        expect(await port.getAsync(0)).toBeNull(); // gives its running slot back
        port.post(0, 3, 0);
        await until(() => Atomics.load(words, 0) === 3, 'the agent got the next packet');
      }
    },
  );

  it('rerank moves a waiting getAsync to its new rank, as the newest of it; after the wait ended it does nothing', async () => {
    // Another thread's waits: this instance's own waits would move with rerank too.
    const port = makePort({ concurrency: 4, maxThreads: 16 });
    const words = new Int32Array(new SharedArrayBuffer(16));
    for (const [slot, rank] of [0, 1].entries()) {
      agent(port, words, WAIT_ONCE, { rank, slot });
      await until(() => port.stats().waiting === slot + 1, `agent ${slot} waits`);
    }
    // This thread waits with rank 2, below both; moved to rank 0 it is the newest ordinary waiter.
    const mine = port.getAsync(undefined, { behind: 2 });
    expect(stackRanks(port, 16)).toEqual([2, 1, 0]);
    port.rerank(0);
    expect(stackRanks(port, 16)).toEqual([1, 0, 0]);
    port.post(0, 1, 0);
    expect((await mine)?.completionKey).toBe(1);
    // Its wait has ended: rerank leaves the agents as they are.
    port.rerank(3);
    expect(stackRanks(port, 16)).toEqual([1, 0]);
    port.post(0, 2, 0);
    port.post(0, 3, 0);
    await until(() => Atomics.load(words, 0) !== 0 && Atomics.load(words, 1) !== 0, 'both agents got packets');
    expect([Atomics.load(words, 0), Atomics.load(words, 1)]).toEqual([2, 3]);
    expect(() => port.rerank(-1)).toThrow(RangeError);
  });

  it('a behind wait that times out leaves the others in their order', async () => {
    const port = makePort({ concurrency: 4 });
    const early = port.getAsync(20, { behind: 1 });
    const waits = [
      port.getAsync(undefined, { behind: 1 }),
      port.getAsync(undefined, { behind: 2 }),
      port.getAsync(undefined, { behind: 1 }),
      port.getAsync(),
    ];
    expect(await early).toBeNull();
    expect(port.stats().waiting).toBe(4);
    const got = await releaseAll(port, waits);
    expect(got).toEqual([3, 4, 2, 1]);
  });

  it('a thread killed while it waits behind is taken off the stack; the others keep their order', async () => {
    const port = makePort({ concurrency: 4 });
    const words = new Int32Array(new SharedArrayBuffer(16));
    const agents = [];
    for (const [slot, rank] of [1, 2, 1, 0].entries()) {
      agents.push(agent(port, words, WAIT_ONCE, { rank, slot }));
      await until(() => port.stats().waiting === slot + 1, `agent ${slot} waits`);
    }
    await agents[2]!.worker.terminate();
    expect(port.releaseThread(agents[2]!.threadId)).toMatchObject({ waiters: 1, running: 0, requeued: 0 });
    for (let k = 1; k <= 3; k++) port.post(0, k, 0);
    await until(() => [0, 1, 3].every((s) => Atomics.load(words, s) !== 0), 'the three live agents got packets');
    expect([Atomics.load(words, 3), Atomics.load(words, 0), Atomics.load(words, 1)]).toEqual([1, 2, 3]);
  });

  it('a push cut short by its thread’s death, at any step of its shift, is repaired in rank order', async () => {
    // The lock holder that pushes a waiter of rank 1 onto [2, 1, 0, 0] writes the rank, the state,
    // then moves the two ordinary waiters up one by one, then stores the entry and S_WAITING.
    // Killed after any of those writes, it leaves the memory below; rebuildAfterDeath (run by the
    // releaseThread that inherits the lock) must leave each waiting slot on the stack once, ordered
    // by rank, with the ranked waiter that was cut at the bottom of its rank.
    for (let cut = 0; cut <= 3; cut++) {
      const maxThreads = 16;
      const port = makePort({ concurrency: 8, maxThreads });
      const waits = [2, 1, 0, 0, 1].map((behind) => port.getAsync(undefined, { behind }));
      const buffer = (port.handle as { buffer: SharedArrayBuffer }).buffer;
      const i32 = new Int32Array(buffer);
      const geo = geometry(port.capacity, maxThreads);
      // The real push put the last wait (x) above b: [a, b, x, c, d].
      const [a, b, x, c, d] = [0, 1, 2, 3, 4].map((i) => i32[STACK_BASE + i]!);
      expect(i32[geo.slotBase + x! * SLOT_WORDS + W_BEHIND]).toBe(1);
      expect(Atomics.load(i32, geo.slotBase + x! * SLOT_WORDS + W_STATE)).toBe(SLOT_SLEEPING);
      // Before x's push the stack was [a, b, c, d]; `cut` writes of the shift happened.
      const after = [
        [a, b, c, d, 999],
        [a, b, c, d, d],
        [a, b, c, c, d],
        [a, b, x, c, d],
      ][cut]!;
      for (let i = 0; i < 5; i++) i32[STACK_BASE + i] = after[i]!;
      Atomics.store(i32, S_WAITING, 4);
      rebuildAfterDeath({ i32, f64: new Float64Array(buffer), geo });
      expect(port.stats().waiting, `cut after ${cut} writes`).toBe(5);
      expect(stackRanks(port, maxThreads), `cut after ${cut} writes`).toEqual([2, 1, 1, 0, 0]);
      const stack = Array.from(i32.subarray(STACK_BASE, STACK_BASE + 5));
      expect(new Set(stack).size).toBe(5);
      expect(stack.slice(0, 3)).toEqual(cut === 3 ? [a, b, x] : [a, x, b]);
      const settled = Promise.allSettled(waits);
      port.close();
      await settled;
    }
  });

  it(`threads terminated in the middle of behind waits, posts and timeouts never break the stack's order (${RACE_ROUNDS} rounds)`, async () => {
    const maxThreads = 16;
    for (let round = 0; round < RACE_ROUNDS; round++) {
      const port = makePort({ concurrency: 8, capacity: 64, maxThreads });
      const words = new Int32Array(new SharedArrayBuffer(16));
      // Each agent posts, then waits a few microseconds with a random rank — pushed behind the
      // others, taken off again by its timeout or handed a packet — as fast as it can.
      const churn = `async (port, words, { index }) => {
        let seed = index * 7919 + 1;
        for (let ops = 1; ; ops++) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          port.post(1, ops, index);
          await port.getAsync(0.02 + (seed % 5) * 0.01, { behind: seed % 4 });
          if ((ops & 255) === 0) Atomics.add(words, 0, 256);
        }
      }`;
      const agents = [0, 1, 2].map((index) => agent(port, words, churn, { index }));
      const at = 512 * (1 + (round % 4));
      await until(() => Atomics.load(words, 0) >= at, `${at} waits`);
      if (round % 4 === 3) await Promise.all(agents.map((a) => a.worker.terminate()));
      for (const a of agents) {
        await a.worker.terminate();
        port.releaseThread(a.threadId);
      }
      const stats = port.stats();
      expect([stats.running, stats.waiting, stats.threads], `round ${round}: released`).toEqual([0, 0, 0]);
      while (port.get(0) !== null);
      // The stack still orders: fresh waits of mixed ranks come out lightest first, LIFO among equals.
      const waits = [3, 0, 1, 0, 1].map((behind) => port.getAsync(undefined, { behind }));
      expect(stackRanks(port, maxThreads)).toEqual([3, 1, 1, 0, 0]);
      const got = await releaseAll(port, waits);
      expect(
        [3, 1, 4, 2, 0].map((w) => got[w]),
        `round ${round}`,
      ).toEqual([1, 2, 3, 4, 5]);
      port.detach();
    }
  });

  it('checks the option', async () => {
    const port = makePort({ concurrency: 1 });
    await expect(port.getAsync(0, { behind: -1 })).rejects.toThrow(RangeError);
    await expect(port.getAsync(0, { behind: 1.5 })).rejects.toThrow(/options\.behind/);
    await expect(port.getAsync(0, { behind: 2 ** 31 })).rejects.toThrow(/options\.behind/);
    await expect(port.getAsync(0, { behind: '1' as never })).rejects.toThrow(TypeError);
    expect(await port.getAsync(0, { behind: 0x7fffffff })).toBeNull();
  });
});
