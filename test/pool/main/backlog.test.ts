import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { AbortError } from '../../../src/pool/errors.js';
import { Backlog, type Backlogged } from '../../../src/pool/main/backlog.js';
import { SignalWatch } from '../../../src/pool/main/signals.js';

function entry(task: unknown, signal?: AbortSignal): Backlogged {
  return { task, extras: undefined, handler: 0, signal, transferList: undefined, resolve: () => {}, reject: () => {}, done: false };
}

/** A backlog whose signal watch fires as the task table's does, recording each rejection. */
function backlog() {
  const rejected: { task: unknown; error: unknown }[] = [];
  let queue: Backlog | undefined;
  const signals = new SignalWatch((key, signal) => {
    if (typeof key !== 'number') queue!.abort(key as Backlogged, signal);
  });
  queue = new Backlog(signals, (e, error) => rejected.push({ task: e.task, error }));
  return { queue, rejected };
}

describe('Backlog (run() tasks waiting for a slot, settled there when they never get one)', () => {
  it("a waiting task's signal aborting rejects it with an AbortError, and the queue skips it", () => {
    const { queue, rejected } = backlog();
    const controller = new AbortController();
    queue.push(entry('a'));
    queue.push(entry('b', controller.signal));
    queue.push(entry('c'));
    controller.abort('stop');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.task).toBe('b');
    expect(rejected[0]!.error).toBeInstanceOf(AbortError);
    expect((rejected[0]!.error as AbortError).cause).toBe('stop');
    expect([queue.shift()?.task, queue.shift()?.task, queue.shift()]).toEqual(['a', 'c', undefined]);
  });

  it('a task that left for a slot is no longer watched: its listener is gone, and its signal aborting rejects nothing here', () => {
    const { queue, rejected } = backlog();
    const controller = new AbortController();
    queue.push(entry('a', controller.signal));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    expect(queue.shift()?.task).toBe('a');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort();
    expect(rejected).toEqual([]);
  });

  it('rejectAll() rejects every task still waiting, oldest first, once each, and empties the queue', () => {
    const { queue, rejected } = backlog();
    const controller = new AbortController();
    for (const task of ['a', 'b', 'c']) queue.push(entry(task, controller.signal));
    let made = 0;
    expect(queue.rejectAll(() => new Error(`closed ${++made}`))).toBe(3);
    expect(rejected.map((r) => [r.task, (r.error as Error).message])).toEqual([
      ['a', 'closed 1'],
      ['b', 'closed 2'],
      ['c', 'closed 3'],
    ]);
    expect(queue.empty).toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0); // their signal is no longer watched
    controller.abort();
    expect(rejected).toHaveLength(3);
  });
});
