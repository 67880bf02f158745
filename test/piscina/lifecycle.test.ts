// iocp-pool/piscina: abort, backpressure, events, close and destroy, as piscina documents them.
import { AsyncLocalStorage, createHook } from 'node:async_hooks';
import { EventEmitter, once } from 'node:events';
import { describe, expect, it } from 'vitest';
import Piscina, { ArrayTaskQueue, type PiscinaTask, type Task } from '../../dist/piscina.js';
import { blocker, pools } from './helpers.js';

describe('Piscina: abort', () => {
  const pool = pools();

  it('an already aborted signal rejects at once with an AbortError', async () => {
    const error = await pool()
      .run({ op: 'add', a: 1, b: 1 }, { signal: AbortSignal.abort('stop') })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'AbortError', message: 'The task has been aborted', cause: 'stop' });
  });

  it('aborting a running task rejects its run() at once, while its handler still blocks', async () => {
    const p = pool({ maxThreads: 1 });
    const b = blocker();
    const controller = new AbortController();
    const running = p.run(b.task, { signal: controller.signal });
    await b.started;
    controller.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    b.release();
  });

  it('aborting a queued task (an EventEmitter signal too) removes it: it never runs', async () => {
    const p = pool({ maxThreads: 1 });
    const b = blocker();
    const first = p.run(b.task);
    await b.started;
    const ee = new EventEmitter();
    const queued = p.run({ op: 'add', a: 1, b: 1 }, { signal: ee as never });
    expect(p.queueSize).toBe(1);
    ee.emit('abort');
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    b.release();
    expect(await first).toBe('released');
    expect(p.completed).toBe(2);
  });
});

describe('Piscina: backpressure', () => {
  const pool = pools();

  it('maxQueue: tasks beyond it reject; needsDrain, then drain', async () => {
    const p = pool({ maxThreads: 1, maxQueue: 2 });
    const b = blocker();
    const events: string[] = [];
    p.on('needsDrain', () => events.push('needsDrain'));
    p.on('drain', () => events.push('drain'));
    const first = p.run(b.task);
    await b.started;
    const queued = [p.run({ op: 'add', a: 1, b: 1 }), p.run({ op: 'add', a: 2, b: 2 })];
    expect(p.queueSize).toBe(2);
    expect(p.needsDrain).toBe(true);
    expect(events).toContain('needsDrain');
    await expect(p.run({ op: 'add', a: 3, b: 3 })).rejects.toThrow('Task queue is at limit');
    b.release();
    expect(await Promise.all([first, ...queued])).toEqual(['released', 2, 4]);
    expect(p.needsDrain).toBe(false);
    expect(events.at(-1)).toBe('drain');
  });

  it('maxQueue: 0 takes a task only while a thread is free', async () => {
    const p = pool({ maxThreads: 1, maxQueue: 0 });
    const b = blocker();
    const first = p.run(b.task);
    await b.started;
    await expect(p.run({ op: 'add', a: 1, b: 1 })).rejects.toThrow('No task queue available and all Workers are busy');
    b.release();
    await first;
  });

  it('a custom taskQueue holds what waits, and sees each task’s queue options', async () => {
    const seen: [unknown, unknown][] = [];
    class Recording extends ArrayTaskQueue {
      override push(task: Task): void {
        seen.push([(task as PiscinaTask).task, task[Piscina.queueOptionsSymbol]]);
        super.push(task);
      }
    }
    const taskQueue = new Recording();
    const p = pool({ maxThreads: 1, taskQueue });
    const b = blocker();
    const first = p.run(b.task);
    await b.started;
    const second = p.run({ op: 'add', a: 1, b: 2, [Piscina.queueOptionsSymbol]: { priority: 1 } });
    const third = p.run({ op: 'add', a: 2, b: 2 });
    // Another export: the queue still sees the value and its options.
    const fourth = p.run(3, { name: 'double' });
    const fifth = p.run({ [Piscina.queueOptionsSymbol]: { priority: 2 } }, { name: 'double' });
    expect(taskQueue.size).toBe(4);
    expect(p.queueSize).toBe(4);
    expect(seen.map(([value]) => (typeof value === 'object' ? (value as { a?: number }).a : value))).toEqual([1, 2, 3, undefined]);
    expect(seen.map(([, options]) => options)).toEqual([{ priority: 1 }, null, null, { priority: 2 }]);
    b.release();
    expect(await Promise.all([first, second, third, fourth, fifth])).toEqual(['released', 3, 4, 6, NaN]);
  });
});

describe('Piscina: events and counters', () => {
  const pool = pools();

  it('threads lists minThreads threads right after the constructor, each with threadId, ref() and unref()', async () => {
    const p = pool({ minThreads: 2, maxThreads: 4 });
    expect(p.threads).toHaveLength(2);
    const [t] = p.threads;
    expect(typeof t!.threadId).toBe('number');
    t!.ref();
    t!.unref();
    expect(await p.run({ op: 'add', a: 1, b: 2 })).toBe(3);
  });

  it("emits 'message' with what a handler posts on parentPort", async () => {
    const p = pool();
    const message = once(p, 'message');
    expect(await p.run({ op: 'post', message: { hello: 1 } })).toBe('posted');
    expect((await message)[0]).toEqual({ hello: 1 });
  });

  it('a thread that exits rejects its task with "worker exited with code: N", and is replaced', async () => {
    const p = pool({ minThreads: 1, maxThreads: 1 });
    await expect(p.run({ op: 'exit', code: 3 })).rejects.toThrow('worker exited with code: 3');
    expect(await p.run({ op: 'add', a: 1, b: 1 })).toBe(2);
  });

  it('workerCreate per thread that comes up; threads lists them; workerDestroy when they go', async () => {
    const p = pool({ minThreads: 2, maxThreads: 2 });
    const created: unknown[] = [];
    p.on('workerCreate', (t) => created.push(t));
    const destroyed = once(p, 'workerDestroy');
    await p.run({ op: 'add', a: 1, b: 1 });
    while (created.length < 2) await once(p, 'workerCreate');
    expect(p.threads).toHaveLength(2);
    expect(p.threads[0]).toMatchObject({ threadId: expect.any(Number), workerId: expect.any(Number) });
    await p.close();
    await destroyed;
    expect(p.threads).toHaveLength(0);
  });

  it("a thread that dies of an uncaught error after its task: 'error' carries that error", async () => {
    const p = pool({ maxThreads: 1 });
    const error = once(p, 'error');
    expect(await p.run({ op: 'throw-later' })).toBe('returned');
    expect((await error)[0]).toMatchObject({ message: 'not caught' });
  });

  it('idleTimeout 0: threads above minThreads do not leave and come back between tasks', async () => {
    const p = pool({ minThreads: 1, maxThreads: 3, idleTimeout: 0 });
    let started = 0;
    p.on('workerCreate', () => started++);
    // Tasks with idle gaps between them (the workload, not a synchronisation).
    for (let i = 0; i < 30; i++) {
      await p.run({ op: 'add', a: i, b: 1 });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(started).toBeLessThanOrEqual(3);
  });

  it('runTime, waitTime, utilization and duration come from the pool’s measurements; null with recordTiming: false', async () => {
    const p = pool();
    await Promise.all(Array.from({ length: 20 }, () => p.run({ op: 'async', value: 1 })));
    expect(p.runTime).toMatchObject({ count: 20, p50: expect.any(Number), max: expect.any(Number) });
    const { mean, average, stddev, min, max, p99_9 } = p.runTime!;
    expect(mean).toBe(average);
    expect(min).toBeGreaterThan(3);
    expect(min <= mean && mean <= max && p99_9 <= max).toBe(true);
    expect(stddev).toBeGreaterThanOrEqual(0);
    expect(p.runTime!.p50).toBeGreaterThan(3); // the handler waits 5 ms
    expect(p.waitTime).toMatchObject({ count: 20 });
    expect(p.utilization).toBeGreaterThan(0);
    expect(p.utilization).toBeLessThan(1);
    expect(p.duration).toBeGreaterThan(0);
    const untimed = pool({ recordTiming: false });
    await untimed.run(1);
    expect(untimed.runTime).toBeNull();
    expect(untimed.waitTime).toBeNull();
    expect(untimed.utilization).toBe(0);
  });

  it('settles each run() in the caller’s async context, in a Piscina.Task resource', async () => {
    const p = pool();
    const store = new AsyncLocalStorage<string>();
    let inits = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'Piscina.Task') inits++;
      },
    }).enable();
    const results = await Promise.all(['a', 'b'].map((tag) => store.run(tag, async () => [await p.run(tag), store.getStore()])));
    hook.disable();
    expect(results).toEqual([
      ['a', 'a'],
      ['b', 'b'],
    ]);
    expect(inits).toBe(2);
  });
});

describe('Piscina: close() and destroy()', () => {
  const pool = pools();

  it('close() lets queued tasks finish; run() after it rejects; close emits "close"', async () => {
    const p = pool({ maxThreads: 1 });
    const results = [p.run({ op: 'async', value: 1 }), p.run({ op: 'async', value: 2 })];
    const closed = once(p, 'close');
    await p.close();
    await closed;
    expect(await Promise.all(results)).toEqual([1, 2]);
    await expect(p.run(1)).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('close({ force: true }) rejects what waits in a custom queue, lets the running task finish', async () => {
    const p = pool({ maxThreads: 1, taskQueue: new ArrayTaskQueue() });
    const b = blocker();
    const running = p.run(b.task);
    await b.started;
    const waiting = p.run({ op: 'add', a: 1, b: 1 });
    const closing = p.close({ force: true });
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    b.release();
    expect(await running).toBe('released');
    await closing;
  });

  it('close({ force: true }) without a custom queue: the tasks not started reject with AbortError (cause "pool is closed")', async () => {
    const p = pool({ maxThreads: 1 });
    const b = blocker();
    const running = p.run(b.task);
    await b.started;
    const waiting = [p.run({ op: 'add', a: 1, b: 1 }), p.run({ op: 'add', a: 2, b: 2 })];
    const closing = p.close({ force: true });
    for (const w of waiting)
      await expect(w).rejects.toMatchObject({ name: 'AbortError', message: 'The task has been aborted', cause: 'pool is closed' });
    b.release();
    expect(await running).toBe('released');
    await closing;
  });

  it('close() past closeTimeout emits an error and destroys the pool', async () => {
    const p = pool({ maxThreads: 1, closeTimeout: 50 });
    const b = blocker();
    const running = p.run(b.task).catch((e: unknown) => e);
    await b.started;
    const error = once(p, 'error');
    await p.close();
    expect((await error)[0]).toMatchObject({ message: 'Close operation timed out' });
    expect(await running).toMatchObject({ message: 'Terminating worker thread' });
  });

  it('destroy() rejects what has not finished with "Terminating worker thread"', async () => {
    const p = pool({ maxThreads: 1 });
    const b = blocker();
    const running = p.run(b.task).catch((e: unknown) => e);
    await b.started;
    const queued = p.run({ op: 'add', a: 1, b: 1 }).catch((e: unknown) => e);
    await p.destroy();
    expect(await running).toMatchObject({ message: 'Terminating worker thread' });
    expect(await queued).toMatchObject({ message: 'Terminating worker thread' });
  });
});
