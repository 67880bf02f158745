import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { SignalWatch } from '../../../src/pool/main/signals.js';
import { TaskControl } from '../../../src/pool/worker/task-control.js';

describe('TaskControl: the handler’s signal, made only when read', () => {
  it('makes no AbortController until the signal is read', () => {
    const control = new TaskControl(7);
    control.abort(new Error('unread'));
    expect(control.controller).toBeUndefined();
  });

  it('an abort that came before the first read is seen by it, with its reason', () => {
    const control = new TaskControl(1);
    const reason = new DOMException('The task was aborted', 'AbortError');
    control.abort(reason);
    const { signal } = control;
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
  });

  it('an abort after the read fires the signal once; a second abort changes nothing', () => {
    const control = new TaskControl(1);
    const { signal } = control;
    expect(signal.aborted).toBe(false);
    const seen: unknown[] = [];
    signal.addEventListener('abort', () => seen.push(signal.reason));
    const first = new DOMException('timeout', 'TimeoutError');
    control.abort(first);
    control.abort(new DOMException('later', 'AbortError'));
    expect(seen).toEqual([first]);
    expect(control.signal).toBe(signal); // one controller per task
  });
});

describe('SignalWatch: one listener per signal', () => {
  it('fires every key still watched, once, and leaves nothing behind', () => {
    const fired: unknown[] = [];
    const watch = new SignalWatch((key) => fired.push(key));
    const controller = new AbortController();
    const entry = {};
    for (let slot = 0; slot < 100; slot++) watch.add(controller.signal, slot);
    watch.add(controller.signal, entry);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    for (let slot = 0; slot < 50; slot++) watch.remove(controller.signal, slot);
    controller.abort();
    expect(fired).toEqual([...Array.from({ length: 50 }, (_, i) => 50 + i), entry]);
    expect(watch.size).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('the last key removed takes the listener off', () => {
    const watch = new SignalWatch(() => {
      throw new Error('must not fire');
    });
    const controller = new AbortController();
    watch.add(controller.signal, 1);
    watch.add(controller.signal, 2);
    watch.remove(controller.signal, 1);
    watch.remove(controller.signal, 1); // twice: no effect
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    watch.remove(controller.signal, 2);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(watch.size).toBe(0);
    controller.abort();
  });
});
