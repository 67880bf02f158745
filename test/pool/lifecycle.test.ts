import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PoolClosedError, ThreadPool } from '../../dist/index.js';
import { COUNTER, fixture, openGate, shared, started, waitFor } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

describe('ThreadPool: close()', () => {
  it.each([1, 2, 3])('completes everything queued before the sentinels, then resolves (round %i)', async () => {
    const { sab, words } = shared();
    // Few slots: most run() tasks wait in the pool's backlog when close() is called.
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 3, slots: 16, workerData: { sab } });
    pools.push(pool);
    const results = Array.from({ length: 2000 }, (_, i) => pool.run({ op: 'echo', value: i }));
    for (let i = 0; i < 500; i++) expect(pool.queueRequest(i)).toBe(true);
    const closed = pool.close();
    expect(pool.queueRequest(1)).toBe(false);
    await expect(pool.run({ op: 'echo', value: 'late' })).rejects.toBeInstanceOf(PoolClosedError);
    await expect(pool.run({ op: 'echo', value: 'late' })).rejects.toThrow(/run\(\) after close\(\)/);
    await closed;
    // Every run() settled before close() resolved, and every request was handled.
    let settled = 0;
    for (const r of results) void r.then(() => settled++);
    await Promise.resolve();
    expect(settled).toBe(2000);
    expect(await Promise.all(results)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(Atomics.load(words, COUNTER)).toBe(500);
    expect(pool.stats()).toMatchObject({ threads: 0, completed: 2500, failed: 0 });
    expect(pool.port.closed).toBe(true);
    expect(await pool.close()).toBeUndefined(); // idempotent
  });

  it('waits for async handlers still running when their thread takes its sentinel', async () => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1, workerData: { sab } });
    pools.push(pool);
    const slow = pool.run({ op: 'async-wait' });
    await started(words, 1);
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    // Handshake: the thread took its sentinel (nothing queued, nobody waiting on the port) …
    await waitFor(() => {
      const s = pool.stats();
      return s.queued === 0 && s.waiting === 0;
    }, 'the thread to take its sentinel');
    // … yet close() waits, because the thread's async handler is still pending.
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    expect(pool.stats().threads).toBe(1);
    Atomics.store(words, 3, 1);
    Atomics.notify(words, 3);
    expect(await slow).toBe('flag seen');
    await closing;
    expect(closed).toBe(true);
  });
});

describe('ThreadPool: destroy()', () => {
  it('rejects every pending run() — running and queued — and resolves when the threads are gone', async () => {
    const { sab, words } = shared();
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2, slots: 4, workerData: { sab } });
    pools.push(pool);
    const blocked = [pool.run({ op: 'gate' }), pool.run({ op: 'gate' })];
    await started(words, 2);
    const queued = Array.from({ length: 20 }, (_, i) => pool.run({ op: 'echo', value: i }));
    const all = [...blocked, ...queued].map((p) =>
      p.then(
        () => 'resolved',
        (e: Error) => e,
      ),
    );
    await pool.destroy();
    for (const outcome of await Promise.all(all)) {
      expect(outcome).toBeInstanceOf(PoolClosedError);
      expect((outcome as Error).message).toMatch(/destroyed/);
    }
    expect(pool.stats().threads).toBe(0);
    await expect(pool.run({ op: 'echo', value: 1 })).rejects.toThrow(/run\(\) after destroy\(\)/);
    expect(pool.queueRequest(1)).toBe(false);
    openGate(words);
  });
});

describe('ThreadPool: ready', () => {
  // Each thread's 'ready' message is a task of its own on the main thread, and 'threadStart' is
  // emitted in the same call that may resolve `ready`: the count of 'threadStart' events seen when
  // `ready`'s reaction runs is the number of threads that had loaded when it resolved.
  async function startsAtReady(options: { threads: number; minThreads?: number }): Promise<{ atReady: number; pool: ThreadPool }> {
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), ...options });
    pools.push(pool);
    let starts = 0;
    pool.on('threadStart', () => starts++);
    await pool.ready;
    return { atReady: starts, pool };
  }

  it.each([1, 2, 3])('resolves once every initial thread has loaded the module: minThreads of them (round %i)', async () => {
    expect((await startsAtReady({ threads: 4 })).atReady).toBe(4); // minThreads defaults to threads
    expect((await startsAtReady({ threads: 4, minThreads: 2 })).atReady).toBe(2);
  });

  it.each([1, 2, 3])('keeps the process alive while it waits: a program that only awaits ready runs on (round %i)', (round) => {
    // An idle pool does not keep the process alive, but one whose threads are still loading must:
    // else `await pool.ready` is a top-level await the process exits under (code 13).
    const program = [
      `import { ThreadPool } from ${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)};`,
      `const pool = new ThreadPool({ filename: ${JSON.stringify(fixture('slow-setup.mjs'))}, threads: 4 });`,
      'await pool.ready;',
      "console.log('ready');",
      'await pool.close();',
    ].join('\n');
    const file = join(mkdtempSync(join(tmpdir(), 'iocp-pool-ready-')), 'main.mjs');
    writeFileSync(file, program);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
    rmSync(dirname(file), { recursive: true, force: true });
    expect(r.stderr, `round ${round}`).toBe('');
    expect(r.stdout).toBe('ready\n');
    expect(r.status).toBe(0);
  });

  it('with minThreads 0, resolves once one thread has loaded it', async () => {
    const { atReady, pool } = await startsAtReady({ threads: 3, minThreads: 0 });
    expect(atReady).toBe(1);
    expect(await pool.run({ op: 'echo', value: 7 })).toBe(7);
  });
});
