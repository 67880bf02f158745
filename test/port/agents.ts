// Agents for the port tests: worker threads that attach to a port by its handle and run a piece of
// test code, and the handshake that waits for state the port or an agent publishes (never a sleep
// that hopes).
import { Worker } from 'node:worker_threads';
import type { CompletionPort } from '../../dist/index.js';

const libUrl = new URL('../../dist/index.js', import.meta.url).href;

export interface Agent {
  readonly worker: Worker;
  /** Its threadId, kept: worker.threadId reads -1 once the thread has exited (releaseThread needs it). */
  readonly threadId: number;
}

/**
 * Starts a thread that runs `body` (the source of an async function of port, words, data) with
 * `port` attached and `words` shared, and adds it to `started` (the test file's teardown stops them).
 */
export function startAgent(started: Agent[], port: CompletionPort, words: Int32Array, body: string, data: unknown = null): Agent {
  const source = `
    const { workerData } = require('node:worker_threads');
    import(workerData.libUrl).then(async ({ CompletionPort }) => {
      const port = CompletionPort.from(workerData.handle);
      const words = new Int32Array(workerData.sab);
      await (${body})(port, words, workerData.data);
    });`;
  const worker = new Worker(source, { eval: true, workerData: { libUrl, handle: port.handle, sab: words.buffer, data } });
  const agent = { worker, threadId: worker.threadId };
  started.push(agent);
  return agent;
}

/** Polls until cond holds: the handshake on state the port (or an agent) publishes; fails after 20 s. */
export async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`handshake timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
