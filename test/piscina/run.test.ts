// iocp-pool/piscina: run() and the worker module, as piscina's README describes them.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import Piscina, { isWorkerThread, workerData } from '../../dist/piscina.js';
import { EXPORTS_OBJECT, FUNCTION_WITH_EXPORTS, LEGACY, OPS, pools } from './helpers.js';

const execFileAsync = promisify(execFile);

describe('Piscina: run()', () => {
  const pool = pools();

  it('runs the default export with the task alone and resolves with its result', async () => {
    const p = pool();
    expect(await p.run({ op: 'add', a: 2, b: 3 })).toBe(5);
    expect(await p.run({ op: 'arity' })).toBe(1);
    expect(await p.run({ op: 'async', value: 'late' })).toBe('late');
    expect(p.completed).toBe(3);
  });

  it('calls another export with { name }, and the pool-wide name option', async () => {
    const p = pool();
    expect(await p.run(21, { name: 'double' })).toBe(42);
    expect(await p.run(1, { name: 'later' })).toBe('later 1');
    const named = pool({ name: 'double' });
    expect(await named.run(4)).toBe(8);
    expect(await named.run({ op: 'add', a: 1, b: 1 }, { name: 'default' })).toBe(2);
  });

  it('runs another module with { filename } (a path or a file: URL), and a pool with no filename', async () => {
    const p = pool();
    expect(await p.run('x', { filename: LEGACY })).toMatchObject({ task: 'x', isWorkerThread: true });
    expect(await p.run('you', { filename: new URL(`file://${EXPORTS_OBJECT}`).href, name: 'greet' })).toBe('hello you');
    const bare = pool({ filename: null });
    await expect(bare.run(1)).rejects.toThrow('filename must be provided to run() or in options object');
    expect(await bare.run({ op: 'add', a: 1, b: 2 }, { filename: OPS })).toBe(3);
  });

  it('a CommonJS module that is a function: it is the default handler, its properties the named ones', async () => {
    const p = pool({ filename: FUNCTION_WITH_EXPORTS });
    expect(await p.run(0)).toBe('first');
    expect(await p.run(0, { name: 'second' })).toBe('second');
  });

  it('rejects with what the handler threw: class, message, properties', async () => {
    const error = await pool()
      .run({ op: 'throw', message: 'bad input' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ message: 'bad input', code: 'E_TASK' });
  });

  it('rejects a module or export with no handler, naming the module', async () => {
    await expect(pool().run(1, { name: 'missing' })).rejects.toThrow(`No handler function exported from ${OPS}`);
  });

  it('isWorkerThread and workerData: false/undefined here, the pool’s in its threads (ESM and CommonJS)', async () => {
    expect(isWorkerThread).toBe(false);
    expect(workerData).toBeUndefined();
    expect(Piscina.isWorkerThread).toBe(false);
    const p = pool({ workerData: { tag: 'ABC' } });
    expect(await p.run({ op: 'state' })).toEqual({ isWorkerThread: true, workerData: { tag: 'ABC' }, static: true, staticData: { tag: 'ABC' } });
    expect(await p.run(0, { filename: LEGACY })).toEqual({ task: 0, isWorkerThread: true, workerData: { tag: 'ABC' } });
  });

  it('Piscina.move(): a moved task buffer is transferred (detached here); a moved result arrives', async () => {
    const p = pool();
    const bytes = new Uint8Array(32).fill(7);
    expect(await p.run(Piscina.move(bytes))).toEqual(new Uint8Array(32).fill(7));
    expect(bytes.byteLength).toBe(0);
    const one = pool({ minThreads: 1, maxThreads: 1 });
    expect(await one.run({ op: 'move' })).toEqual(new Uint8Array([1, 2, 3]));
    expect(await one.run({ op: 'moved-length' })).toBe(0);
    // A Transferable of one's own, whose transfer list is an array.
    const data = new ArrayBuffer(8);
    const shared = {
      get [Piscina.transferableSymbol]() {
        return [data];
      },
      get [Piscina.valueSymbol]() {
        return { data };
      },
    };
    expect(await p.run(Piscina.move(shared))).toEqual({ data: new ArrayBuffer(8) });
    expect(data.byteLength).toBe(0);
    expect(await one.run({ op: 'move-shared' })).toEqual({ data: new ArrayBuffer(4) });
    expect(await one.run({ op: 'moved-length' })).toBe(0);
    const ab = new ArrayBuffer(16);
    expect(await p.run({ op: 'length', buffer: ab }, { transferList: [ab] })).toBe(16);
    expect(ab.byteLength).toBe(0);
  });

  it('what a handler wrote reaches stdout before its result settles: a program that exits then loses nothing', async () => {
    // Sixteen such programs at once: on 2 cores, without the flush, a few of them lose the last line.
    const program = fileURLToPath(new URL('./fixtures/log-then-exit.mjs', import.meta.url));
    const outputs = await Promise.all(Array.from({ length: 16 }, () => execFileAsync(process.execPath, [program], { timeout: 60_000 })));
    expect(outputs.map((out) => out.stdout)).toEqual(Array(16).fill('line 1\nline 2\n'));
  });

  it('checks run() options as piscina does', async () => {
    const p = pool();
    await expect(p.run(1, 1 as never)).rejects.toThrow('options must be an object');
    await expect(p.run(1, { transferList: 1 as never })).rejects.toThrow('transferList argument must be an Array');
    await expect(p.run(1, { filename: 1 as never })).rejects.toThrow('filename argument must be a string');
    await expect(p.run(1, { name: 1 as never })).rejects.toThrow('name argument must be a string');
    await expect(p.run(1, { signal: 1 as never })).rejects.toThrow('signal argument must be an object');
  });
});

describe('Piscina: options', () => {
  const pool = pools();

  it('fills piscina’s defaults and resolves maxQueue: auto to maxThreads²', () => {
    const p = pool({ maxThreads: 3, maxQueue: 'auto' });
    expect(p.options).toMatchObject({ filename: OPS, name: 'default', maxThreads: 3, maxQueue: 9, idleTimeout: 0, concurrentTasksPerWorker: 1 });
    expect(p.maxThreads).toBe(3);
    expect(pool({ minThreads: 4, maxThreads: 4 }).minThreads).toBe(4);
    expect(pool({ minThreads: 5 }).maxThreads).toBeGreaterThanOrEqual(5);
  });

  it.each([
    [{ filename: 12 }, 'options.filename must be a string or null'],
    [{ name: 12 }, 'options.name must be a string or null'],
    [{ minThreads: -1 }, 'options.minThreads must be a non-negative integer'],
    [{ maxThreads: 0 }, 'options.maxThreads must be a positive integer'],
    [{ idleTimeout: 'x' }, 'options.idleTimeout must be a non-negative integer'],
    [{ maxQueue: -1 }, 'options.maxQueue must be a non-negative integer'],
    [{ concurrentTasksPerWorker: 0 }, 'options.concurrentTasksPerWorker must be a positive integer'],
    [{ useAtomics: 1 }, 'options.useAtomics must be a boolean'],
    [{ resourceLimits: 0 }, 'options.resourceLimits must be an object'],
    [{ taskQueue: {} }, 'options.taskQueue must be a TaskQueue object'],
    [{ niceIncrement: 'x' }, 'options.niceIncrement must be a non-negative integer'],
    [{ trackUnmanagedFds: 1 }, 'options.trackUnmanagedFds must be a boolean'],
    [{ closeTimeout: -1 }, 'options.closeTimeout must be a non-negative integer'],
  ])('rejects %o with a TypeError', (options, message) => {
    expect(() => new Piscina(options as never)).toThrow(TypeError);
    expect(() => new Piscina(options as never)).toThrow(message);
  });

  it('rejects minThreads above maxThreads with a RangeError', () => {
    expect(() => new Piscina({ minThreads: 3, maxThreads: 2 })).toThrow(RangeError);
  });

  it('passes env, argv and execArgv to the threads', async () => {
    const p = pool({ env: { PISCINA_TEST: 'yes' }, argv: ['--flag'], execArgv: ['--no-warnings'] });
    expect(await p.run({ op: 'env' })).toEqual({ env: 'yes', argv: ['--flag'], execArgv: ['--no-warnings'] });
  });
});
