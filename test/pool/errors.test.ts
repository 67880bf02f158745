import { afterEach, describe, expect, it, vi } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { COUNTER, fixture, openGate, shared, started, waitFor } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

describe('ThreadPool: handler errors', () => {
  it('rejects run() with the error thrown: name, message, stack and own properties kept', async () => {
    const { sab } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, workerData: { sab } });
    pools.push(pool);
    const error = (await pool.run({ op: 'throw', message: 'boom' }).catch((e: unknown) => e)) as Error & { code: string; detail: unknown };
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('CustomError');
    expect(error.message).toBe('boom');
    expect(error.stack).toMatch(/CustomError: boom/);
    expect(error.stack).toMatch(/ops\.mjs/);
    expect(error.code).toBe('E_CUSTOM');
    expect(error.detail).toEqual({ n: 42 });
    await expect(pool.run({ op: 'throw-type', message: 'bad type' })).rejects.toBeInstanceOf(TypeError);
    const asyncError = (await pool.run({ op: 'reject', message: 'later' }).catch((e: unknown) => e)) as Error;
    expect(asyncError.name).toBe('CustomError');
    expect(asyncError.message).toBe('later');
    await pool.close();
  });

  it('fails only the task that threw: the others in flight resolve', async () => {
    const { sab } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, workerData: { sab } });
    pools.push(pool);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => (i % 10 === 3 ? pool.run({ op: 'throw', message: `t${i}` }) : pool.run({ op: 'echo', value: i }))),
    );
    outcomes.forEach((outcome, i) => {
      if (i % 10 === 3) expect(outcome).toMatchObject({ status: 'rejected', reason: { message: `t${i}` } });
      else expect(outcome).toEqual({ status: 'fulfilled', value: i });
    });
    expect(pool.stats()).toMatchObject({ completed: 180, failed: 20 });
    await pool.close();
  });
});

describe('ThreadPool: errors that cannot be recorded faithfully', () => {
  /** Runs `name` while five gated bystanders wait on the same thread; returns what it rejected with. */
  async function withBystanders(serialization: 'structured' | 'json', name: string): Promise<unknown> {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('fidelity.mjs'), threads: 1, serialization, workerData: { sab } });
    pools.push(pool);
    const bystanders = Array.from({ length: 5 }, () => pool.run(null, { name: 'gated' }));
    await started(words, 5);
    const outcome = await pool.run(null, { name }).then(
      (value) => ({ resolved: value }),
      (error: unknown) => error,
    );
    openGate(words);
    // The thread lived: every bystander finishes, nothing was replaced.
    expect(await Promise.all(bystanders)).toEqual(Array(5).fill('gate passed'));
    expect(pool.stats().threads).toBe(1);
    expect(await pool.run('still serving')).toBe('still serving');
    return outcome;
  }

  describe.each(['structured', 'json'] as const)("serialization '%s'", (serialization) => {
    it('a cyclic cause: the error arrives with its cycle, the bystanders are untouched', async () => {
      const error = (await withBystanders(serialization, 'throwCyclicCause')) as TypeError & { cause: RangeError & { cause: unknown } };
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toBe('the outer error');
      expect(error.cause).toBeInstanceOf(RangeError);
      expect(error.cause.message).toBe('the inner error');
      expect(error.cause.cause).toBe(error);
    });

    it('an enumerable getter that throws: that property is left out and said so, the rest kept', async () => {
      const error = (await withBystanders(serialization, 'throwGetter')) as Error & { code: string; notSent: string[] };
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toBe('has a bad getter');
      expect(error.code).toBe('E_KEPT');
      expect('bad' in error).toBe(false);
      expect(error.notSent).toEqual([expect.stringMatching(/^bad: reading it threw \(Error: the getter threw\)/)]);
    });

    it('a name getter that throws: the type the error is an instance of names it, and said so', async () => {
      const error = (await withBystanders(serialization, 'throwName')) as TypeError & { notSent: string[] };
      expect(error).toBeInstanceOf(TypeError);
      expect(error.name).toBe('TypeError');
      expect(error.message).toBe('has no readable name');
      // V8 formats the stack on first read, with the name: the stack goes too.
      expect(error.notSent).toEqual([
        'name: reading it threw (Error: no name for you)',
        expect.stringMatching(/^stack: reading it threw \(Error: no name for you\)/),
      ]);
    });

    it('a property that cannot be cloned: only that one is left out (the others used to go with it)', async () => {
      const error = (await withBystanders(serialization, 'throwFunctionProp')) as Error & { code: string; notSent: string[] };
      expect(error.message).toBe('has a function');
      expect(error.code).toBe('E_KEPT');
      expect('callback' in error).toBe(false);
      expect(error.notSent).toEqual([expect.stringMatching(/^callback: it could not be cloned/)]);
    });
  });
});

describe('ThreadPool: queueRequest', () => {
  it('calls the handler with each wParam on a pool thread (CThreadPools::QueueRequest)', async () => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, workerData: { sab } });
    pools.push(pool);
    for (let i = 0; i < 1000; i++) expect(pool.queueRequest(i)).toBe(true);
    await waitFor(() => Atomics.load(words, COUNTER) === 1000, '1000 requests handled');
    await pool.close();
    expect(Atomics.load(words, COUNTER)).toBe(1000);
  });

  it('returns false when the queue is full, true again once there is room', async () => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1, queueCapacity: 4, workerData: { sab } });
    pools.push(pool);
    await pool.ready;
    expect(pool.queueRequest(-5)).toBe(true); // blocks the only thread until the gate opens
    await started(words, 1);
    for (let i = 0; i < 4; i++) expect(pool.queueRequest(i)).toBe(true);
    expect(pool.queueRequest(99)).toBe(false);
    Atomics.store(words, 1, 1);
    Atomics.notify(words, 1);
    await waitFor(() => Atomics.load(words, COUNTER) === 4, 'the 4 queued requests');
    expect(pool.queueRequest(5)).toBe(true);
    await pool.close();
    expect(Atomics.load(words, COUNTER)).toBe(5);
  });

  it("reports a request handler's error on the 'error' event with its wParam", async () => {
    const { sab } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, workerData: { sab } });
    pools.push(pool);
    const seen: [Error, number][] = [];
    pool.on('error', (error: Error, wParam: number) => seen.push([error, wParam]));
    pool.queueRequest(-2);
    pool.queueRequest(-3);
    await waitFor(() => seen.length === 2, "two 'error' events");
    seen.sort((a, b) => b[1] - a[1]);
    expect(seen[0]![1]).toBe(-2);
    expect(seen[0]![0]).toMatchObject({ name: 'CustomError', message: 'request -2 failed', code: 'E_CUSTOM' });
    expect(seen[1]![1]).toBe(-3);
    expect(seen[1]![0].message).toBe('async request failed');
    expect(pool.stats().failed).toBe(2);
    await pool.close();
  });

  it("with no 'error' listener, a request error becomes a process warning (not a crash, not lost)", async () => {
    const { sab } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1, workerData: { sab } });
    pools.push(pool);
    // The warning is caught where it is emitted, so a passing run prints nothing.
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      pool.queueRequest(-2);
      await waitFor(() => emitted.mock.calls.some(([message]) => /queueRequest\(-2\)/.test(String(message))), 'the warning');
      const [message, options] = emitted.mock.calls.find(([m]) => /queueRequest\(-2\)/.test(String(m)))!;
      expect(options).toMatchObject({ code: 'IOCP_POOL_REQUEST_ERROR' });
      expect(String(message)).toMatch(/request -2 failed/);
      expect(await pool.run({ op: 'echo', value: 'alive' })).toBe('alive');
    } finally {
      emitted.mockRestore();
    }
    await pool.close();
  });

  it('rejects a wParam that is not a finite number', () => {
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1 });
    pools.push(pool);
    expect(() => pool.queueRequest(NaN)).toThrow(TypeError);
    expect(() => pool.queueRequest('1' as unknown as number)).toThrow(TypeError);
  });
});
