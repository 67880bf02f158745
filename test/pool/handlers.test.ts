// Named handlers, the Worker options passed through, TypeScript worker modules.
import { pathToFileURL } from 'node:url';
import { SHARE_ENV } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool, WorkerLoadError } from '../../dist/index.js';
import { COUNTER, fixture, shared, waitFor } from './helpers.js';

const pools: { destroy(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

function make<T = unknown>(options: ConstructorParameters<typeof ThreadPool>[0]): ThreadPool<T> {
  const pool = new ThreadPool<T>(options);
  pools.push(pool);
  return pool;
}

describe('ThreadPool: named handlers', () => {
  it('calls two named exports of one module by name, and the default export without one', async () => {
    const pool = make({ filename: fixture('handlers.mjs'), threads: 2 });
    const results = await Promise.all([
      pool.run(21, { name: 'double' }),
      pool.run('ada', { name: 'greet' }),
      pool.run(7),
      pool.run(5, { name: 'double' }),
    ]);
    expect(results).toEqual([42, 'hello ada', 'default:7', 10]);
    // Many named tasks at once, interleaved with default ones: each reaches its handler.
    const mixed = await Promise.all(Array.from({ length: 2000 }, (_, i) => (i % 2 === 0 ? pool.run(i, { name: 'double' }) : pool.run(i))));
    for (const [i, r] of mixed.entries()) expect(r).toBe(i % 2 === 0 ? 2 * i : `default:${i}`);
  });

  it('rejects a run() naming an export that does not exist, naming it and listing the exports; the pool keeps serving', async () => {
    const pool = make({ filename: fixture('handlers.mjs'), threads: 1 });
    const missing = (await pool.run(1, { name: 'resize' }).catch((e: unknown) => e)) as Error;
    expect(missing).toBeInstanceOf(TypeError);
    expect(missing.message).toMatch(/no export named "resize"/);
    expect(missing.message).toMatch(/"double"/);
    expect(missing.message).toMatch(/"greet"/);
    const notFn = (await pool.run(1, { name: 'notAFunction' }).catch((e: unknown) => e)) as Error;
    expect(notFn.message).toMatch(/no export named "notAFunction" that is a function/);
    expect(await pool.run(2, { name: 'double' })).toBe(4);
    expect(pool.stats().failed).toBe(2);
  });

  it("the pool's name option sets the default handler, for run() and queueRequest()", async () => {
    const { sab, words } = shared();
    const pool = make({ filename: fixture('handlers.mjs'), threads: 1, name: 'double', workerData: { sab } });
    expect(await pool.run(8)).toBe(16);
    expect(await pool.run('x', { name: 'greet' })).toBe('hello x');
    expect(pool.queueRequest(3)).toBe(true);
    await waitFor(() => Atomics.load(words, COUNTER) >= 2, 'the request to reach double()'); // the run(8) counted once
    expect(Atomics.load(words, COUNTER)).toBe(2);
  });

  it('a pool whose name option names no export fails with WorkerLoadError', async () => {
    const pool = make({ filename: fixture('handlers.mjs'), threads: 1, name: 'resize' });
    await expect(pool.run(1)).rejects.toBeInstanceOf(WorkerLoadError);
    await expect(pool.ready).rejects.toThrow(/no export named "resize"/);
  });

  it('a module with named exports only: named runs work, a run() without a name says there is no default handler', async () => {
    const pool = make({ filename: fixture('only-named.mjs'), threads: 1 });
    expect(await pool.run(9, { name: 'square' })).toBe(81);
    expect(await pool.run(9, { name: 'negate' })).toBe(-9);
    const error = (await pool.run(9).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/has no default handler: give run\(\) a name \(it exports/);
    expect(error.message).toMatch(/"square"/);
    expect(error.message).toMatch(/"negate"/);
  });

  it('a CommonJS module.exports object: its functions are handlers by name', async () => {
    const pool = make({ filename: fixture('commonjs-named.cjs'), threads: 1 });
    expect(await pool.run('Ab', { name: 'upper' })).toBe('AB');
    expect(await pool.run('Ab', { name: 'lower' })).toBe('ab');
  });

  it("resolves a name among the module's own exports only: Object.prototype's names are not handlers", async () => {
    const INHERITED = ['toString', 'constructor', 'valueOf', 'hasOwnProperty', 'toLocaleString', '__defineGetter__'];
    const pool = make({ filename: fixture('handlers.mjs'), threads: 1 });
    for (const name of INHERITED) {
      const error = (await pool.run({ x: 1 }, { name }).catch((e: unknown) => e)) as Error;
      expect(error, name).toBeInstanceOf(TypeError);
      expect(error.message, name).toMatch(new RegExp(`no export named "${name}" that is a function`));
      const [answer] = await pool.broadcast({ x: 1 }, { name }).then(
        (v) => v,
        (e: unknown) => [e],
      );
      expect(answer, `broadcast ${name}`).toBeInstanceOf(TypeError);
    }
    expect(await pool.run(3, { name: 'double' })).toBe(6); // the pool keeps serving
    for (const name of ['toString', 'constructor']) {
      const option = make({ filename: fixture('handlers.mjs'), threads: 1, name });
      await expect(option.ready, `name option ${name}`).rejects.toThrow(new RegExp(`no export named "${name}"`));
    }
  });

  it('checks names: a TypeError for a non-string, a RangeError for an empty one or one too many', async () => {
    const pool = make({ filename: fixture('handlers.mjs'), threads: 1 });
    await expect(pool.run(1, { name: 5 as never })).rejects.toThrow(TypeError);
    await expect(pool.run(1, { name: '' })).rejects.toThrow(RangeError);
    expect(() => new ThreadPool({ filename: fixture('handlers.mjs'), name: 7 as never })).toThrow(/options\.name/);
    // 256 distinct names fit (each run of a missing one rejects on its thread); the 257th does not.
    const outcomes = await Promise.allSettled(Array.from({ length: 256 }, (_, i) => pool.run(1, { name: `n${i}` })));
    expect(outcomes.every((o) => o.status === 'rejected' && /no export named/.test(String(o.reason)))).toBe(true);
    await expect(pool.run(1, { name: 'one-more' })).rejects.toThrow(/at most 256 distinct handler names/);
    expect(await pool.run(1, { name: 'n3' }).catch((e: Error) => e.message)).toMatch(/no export named "n3"/);
    expect(await pool.run(4)).toBe('default:4');
  });
});

describe('ThreadPool: the Worker options', () => {
  it('passes env, argv and execArgv to every thread', async () => {
    const pool = make({
      filename: fixture('probe.mjs'),
      threads: 2,
      env: { IOCP_PROBE: 'from env' },
      argv: ['one', 'two'],
      execArgv: ['--import', pathToFileURL(fixture('set-flag.mjs')).href],
    });
    const seen = await Promise.all([pool.run('IOCP_PROBE'), pool.run('IOCP_PROBE')]);
    for (const s of seen) {
      expect(s).toEqual({
        env: 'from env',
        argv: ['one', 'two'],
        execArgv: ['--import', pathToFileURL(fixture('set-flag.mjs')).href],
        imported: 'yes',
      });
    }
  });

  it('env: SHARE_ENV shares the main thread’s environment, changes included', async () => {
    const pool = make({ filename: fixture('probe.mjs'), threads: 1, env: SHARE_ENV });
    process.env.IOCP_SHARED_PROBE = 'later';
    try {
      expect(((await pool.run('IOCP_SHARED_PROBE')) as { env: string }).env).toBe('later');
    } finally {
      delete process.env.IOCP_SHARED_PROBE;
    }
  });

  it.each([
    ['env', 'x', /options\.env must be an object or SHARE_ENV/],
    ['argv', 'x', /options\.argv must be an array/],
    ['execArgv', [1], /options\.execArgv must be an array of strings/],
    ['stdout', 'yes', /options\.stdout must be a boolean/],
    ['stderr', 1, /options\.stderr must be a boolean/],
    ['trackUnmanagedFds', 'no', /options\.trackUnmanagedFds must be a boolean/],
    ['resourceLimits', 5, /options\.resourceLimits must be an object/],
  ])('checks %s: a TypeError naming it', (key, value, message) => {
    expect(() => new ThreadPool({ filename: fixture('probe.mjs'), [key]: value } as never)).toThrow(TypeError);
    expect(() => new ThreadPool({ filename: fixture('probe.mjs'), [key]: value } as never)).toThrow(message);
  });
});

describe('ThreadPool: TypeScript worker modules', () => {
  it("runs a .ts worker module through execArgv: ['--import', 'tsx'], named exports included", async () => {
    const pool = make<typeof import('./fixtures/typed.js')>({ filename: fixture('typed.ts'), threads: 1, execArgv: ['--import', 'tsx'] });
    expect(await pool.run({ width: 3, height: 4 })).toBe('3×4');
    expect(await pool.run({ width: 3, height: 4 }, { name: 'area' })).toBe(12);
  });

  // Node 22.6+ strips types itself (run by npm run test:node-versions); Node 20 cannot.
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  it.runIf(major > 22 || (major === 22 && minor >= 6))(
    "runs a .ts worker module through execArgv: ['--experimental-strip-types'] (Node 22.6+)",
    async () => {
      const pool = make<typeof import('./fixtures/typed.js')>({
        filename: fixture('typed.ts'),
        threads: 1,
        execArgv: ['--experimental-strip-types', '--no-warnings'],
      });
      expect(await pool.run({ width: 2, height: 5 }, { name: 'area' })).toBe(10);
    },
  );

  it.runIf(major === 20)('without a loader, a .ts module fails with a WorkerLoadError that says how to load TypeScript', async () => {
    const pool = make({ filename: fixture('typed.ts'), threads: 1, execArgv: [] });
    const error = (await pool.run({ width: 1, height: 1 }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(WorkerLoadError);
    expect(error.message).toMatch(/execArgv: \['--import', 'tsx'\]/);
  });
});

describe('ThreadPool: errors that say where to look', () => {
  it('a task that cannot be cloned: the error names the task', async () => {
    const pool = make({ filename: fixture('handlers.mjs'), threads: 1 });
    const error = (await pool.run(() => 1).catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('DataCloneError');
    expect(error.message).toMatch(/^run\(\)'s task \(its first argument\) could not be cloned: /);
  });

  it('a result that cannot be cloned: the error names the handler that returned it', async () => {
    const pool = make({ filename: fixture('ops.mjs'), threads: 1 });
    const error = (await pool.run({ op: 'fn' }).catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('DataCloneError');
    expect(error.message).toMatch(/^the result of the default handler could not be cloned: /);
    // The same DOMException (code 25) as the one the main thread raises for a task that cannot be cloned.
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).code).toBe(25);
    const here = (await pool.run(() => 1).catch((e: unknown) => e)) as DOMException;
    expect(here).toBeInstanceOf(DOMException);
    expect(here.code).toBe(25);
    const named = make({ filename: fixture('ops.mjs'), threads: 1, name: 'default' });
    expect(((await named.run({ op: 'fn' }).catch((e: unknown) => e)) as Error).message).toMatch(
      /^the result of handler "default" could not be cloned/,
    );
  });

  it('CompletionPort.from(port) says to pass port.handle', async () => {
    const { CompletionPort } = await import('../../dist/index.js');
    const port = new CompletionPort();
    expect(() => CompletionPort.from(port as never)).toThrow(/pass port\.handle/);
    port.close();
  });
});
