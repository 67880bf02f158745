// getAsync's syncMs option: a short blocking wait (Atomics.wait) before the asynchronous one,
// on the same waiter slot, so the wait keeps its place in the LIFO order.
import { afterEach, describe, expect, it } from 'vitest';
import { CompletionPort } from '../../dist/index.js';
import { type Agent, startAgent, until } from './agents.js';

const workers: Agent[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map(({ worker }) => worker.terminate()));
});

describe('CompletionPort.getAsync({ syncMs })', () => {
  it('takes a packet posted during the blocking phase, without a turn of the event loop', async () => {
    const port = new CompletionPort({ concurrency: 4 });
    // The agent posts once it sees this thread on the waiter stack: the packet comes during the block.
    startAgent(
      workers,
      port,
      new Int32Array(new SharedArrayBuffer(8)),
      `async (port) => {
      while (port.stats().waiting === 0) await new Promise((r) => setTimeout(r, 1));
      port.post(1, 7, 0);
    }`,
    );
    let turned = false;
    setImmediate(() => (turned = true));
    const packet = await port.getAsync(20_000, { syncMs: 10_000 });
    expect(packet).toEqual({ bytesTransferred: 1, completionKey: 7, overlapped: 0 });
    expect(turned).toBe(false); // delivered inside the synchronous part of the call
    port.close();
  });

  it('times out with null when the timeout is shorter than syncMs, and after the async part otherwise', async () => {
    const port = new CompletionPort();
    let t0 = performance.now();
    expect(await port.getAsync(30, { syncMs: 1_000 })).toBeNull();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
    expect(performance.now() - t0).toBeLessThan(1_000);
    t0 = performance.now();
    let turned = false;
    setImmediate(() => (turned = true));
    expect(await port.getAsync(60, { syncMs: 20 })).toBeNull();
    expect(turned).toBe(true); // the last 40 ms were waited on the event loop
    expect(performance.now() - t0).toBeGreaterThanOrEqual(59);
    expect(port.stats()).toMatchObject({ waiting: 0, running: 0 });
    port.close();
  });

  it.each([1, 2, 3])('keeps its place in the LIFO order when it moves from the blocking to the asynchronous wait (round %i)', async () => {
    const port = new CompletionPort({ concurrency: 4 });
    const words = new Int32Array(new SharedArrayBuffer(16));
    // The agent's wait begins first and blocks 100 ms before it goes asynchronous; ours begins
    // after it, while it still blocks. Ours is the newer wait, and must stay so after the move.
    startAgent(
      workers,
      port,
      words,
      `async (port, words) => {
      // Runs at the agent's first turn of the event loop: once its wait has left the blocking phase.
      setImmediate(() => Atomics.store(words, 2, 1));
      const got = port.getAsync(Infinity, { syncMs: 100 });
      const packet = await got;
      Atomics.store(words, 1, packet.completionKey);
      Atomics.notify(words, 1);
    }`,
    );
    await until(() => port.stats().waiting === 1, 'the agent waits');
    const ours = port.getAsync();
    expect(port.stats().waiting).toBe(2);
    // Once the agent's wait is on its event loop (past the blocking phase), one packet: LIFO gives it to us.
    await until(() => Atomics.load(words, 2) === 1, "the agent's wait is on its event loop");
    port.post(1, 1, 0);
    expect(await ours).toMatchObject({ completionKey: 1 });
    expect(Atomics.load(words, 1)).toBe(0);
    port.post(1, 2, 0);
    await until(() => Atomics.load(words, 1) === 2, 'the agent got the second packet');
    port.close();
  });

  it('checks the option', async () => {
    const port = new CompletionPort();
    await expect(port.getAsync(0, { syncMs: -1 })).rejects.toThrow(/options\.syncMs/);
    await expect(port.getAsync(0, { syncMs: 'x' as never })).rejects.toThrow(/options\.syncMs/);
    port.close();
  });
});
