// The result channel as the main thread reads it, when messages do not come in the order the pool
// thread sent them — as on Deno, where a listening port's event loop takes messages ahead of
// receiveMessageOnPort — and when a task's packet comes before what the task sent ahead of it.
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { ResultChannel } from '../../../src/pool/main/channel.js';

const open: MessageChannel[] = [];
afterEach(() => {
  for (const c of open.splice(0)) {
    c.port1.close();
    c.port2.close();
  }
});

function channel(): { sent: MessageChannel['port2']; reader: ResultChannel; seen: unknown[] } {
  const c = new MessageChannel();
  open.push(c);
  const seen: unknown[] = [];
  const reader = new ResultChannel(c.port1, (slot, ticket, value) => seen.push(`${slot}/${ticket}:${String(value)}`));
  return { sent: c.port2, reader, seen };
}

describe('ResultChannel', () => {
  it('handles messages in the order the thread numbered them, whatever order they come in', () => {
    const { sent, reader, seen } = channel();
    sent.postMessage({ kind: 'progress', seq: 1, slot: 0, ticket: 7, value: 'b' });
    sent.postMessage({ kind: 'result', seq: 2, slot: 0, value: 'big' });
    expect(reader.arrived(0, 7, false, true)).toBe(false); // the result waits behind message 0
    expect(seen).toEqual([]);
    sent.postMessage({ kind: 'progress', seq: 0, slot: 0, ticket: 7, value: 'a' });
    expect(reader.arrived(0, 7, false, true)).toBe(true);
    expect(seen).toEqual(['0/7:a', '0/7:b']);
    expect(reader.take(0, 'missing')).toBe('big');
  });

  it("a packet that came before its task's last progress value waits for the end of its progress, then every value is in", async () => {
    const { sent, reader, seen } = channel();
    sent.postMessage({ kind: 'progress', seq: 0, slot: 3, ticket: 1, value: 1 });
    expect(reader.arrived(3, 1, true, false)).toBe(false);
    const settled = new Promise<unknown[]>((resolve) => reader.whenArrived(3, 1, true, false, () => resolve([...seen])));
    sent.postMessage({ kind: 'progress', seq: 1, slot: 3, ticket: 1, value: 2 });
    sent.postMessage({ kind: 'progress', seq: 2, slot: 3, ticket: 1, value: 3 });
    sent.postMessage({ kind: 'progress-end', seq: 3, slot: 3, ticket: 1 });
    // Delivered by the listener whenArrived started: the values, then the settling.
    expect(await settled).toEqual(['3/1:1', '3/1:2', '3/1:3']);
  });

  it("the end of an earlier task's progress in the same slot (another ticket) does not count", () => {
    const { sent, reader } = channel();
    sent.postMessage({ kind: 'progress-end', seq: 0, slot: 5, ticket: 1 });
    expect(reader.arrived(5, 2, true, false)).toBe(false);
    sent.postMessage({ kind: 'progress-end', seq: 1, slot: 5, ticket: 2 });
    expect(reader.arrived(5, 2, true, false)).toBe(true);
  });
});
