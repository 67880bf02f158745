// pool.threadInfo() (its threads, with ref()/unref()), the 'message' event for what handlers post on
// parentPort themselves, and WorkerDiedError.exitCode.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool, WorkerDiedError } from '../../dist/index.js';
import { fixture, waitFor } from './helpers.js';
import { ownStderr } from '../child-stderr.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

function runProgram(lines: string[]): ReturnType<typeof spawnSync> {
  const file = join(mkdtempSync(join(tmpdir(), 'iocp-pool-info-')), 'main.mjs');
  writeFileSync(file, [`import { ThreadPool } from ${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)};`, ...lines].join('\n'));
  try {
    return spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
  } finally {
    rmSync(dirname(file), { recursive: true, force: true });
  }
}

describe('ThreadPool: threadInfo()', () => {
  it('lists the threads as soon as they are started, the same object each time, ready once loaded', async () => {
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 2 });
    pools.push(pool);
    const info = pool.threadInfo();
    expect(info).toHaveLength(2);
    expect(new Set(info.map((t) => t.threadId)).size).toBe(2);
    expect(pool.threadInfo()[0]).toBe(info[0]);
    await pool.ready;
    expect(info.every((t) => t.ready)).toBe(true);
    const ids = new Set<number>();
    for (let i = 0; i < 20; i++) ids.add((await pool.run({ op: 'threadId' })) as number);
    for (const id of ids) expect(info.map((t) => t.threadId)).toContain(id);
    await pool.close();
    expect(pool.threadInfo()).toEqual([]);
  });

  it.each([1, 2])('ref() keeps an idle pool’s process alive, so a timer a handler left behind is reported (round %i)', () => {
    const program = (ref: boolean) => [
      `const pool = new ThreadPool({ filename: ${JSON.stringify(fixture('ops.mjs'))}, threads: 1 });`,
      "pool.on('error', (e) => { console.log('error:', e.name); pool.destroy(); });",
      `console.log(await pool.run({ op: 'leave-timer', ms: 200 }));`,
      ref ? 'for (const t of pool.threadInfo()) t.ref();' : '',
    ];
    const kept = runProgram(program(true));
    expect(ownStderr(String(kept.stderr))).toBe('');
    expect(kept.stdout).toBe('returned\nerror: WorkerDiedError\n');
    // Without ref(): the idle pool lets the process exit before the timer fires.
    const left = runProgram(program(false));
    expect(left.stdout).toBe('returned\n');
    expect(left.status).toBe(0);
  });

  it('unref() gives the thread back to the pool’s keep-alive policy', () => {
    const r = runProgram([
      `const pool = new ThreadPool({ filename: ${JSON.stringify(fixture('ops.mjs'))}, threads: 1 });`,
      "pool.on('error', (e) => console.log('error:', e.name));",
      `console.log(await pool.run({ op: 'leave-timer', ms: 500 }));`,
      'const [t] = pool.threadInfo(); t.ref(); t.unref();',
    ]);
    expect(r.stdout).toBe('returned\n');
    expect(r.status).toBe(0);
  });
});

describe("ThreadPool: the 'message' event", () => {
  it('emits what a handler posts on parentPort, with its thread, even messages shaped like the pool’s own', async () => {
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1 });
    pools.push(pool);
    const seen: [unknown, unknown][] = [];
    pool.on('message', (message, thread) => seen.push([message, thread]));
    const messages = [{ hello: 'world' }, 42, { type: 'ready' }, { type: 'result', slot: 0 }, null];
    expect(await pool.run({ op: 'post', messages })).toBe('posted');
    const threadId = (await pool.run({ op: 'threadId' })) as number;
    // Messages travel on the thread's port, results through shared memory: wait for the messages.
    await waitFor(() => seen.length === messages.length, 'the messages');
    expect(seen.map(([m]) => m)).toEqual(messages);
    for (const [, thread] of seen) expect(thread).toMatchObject({ threadId });
    expect(await pool.run({ op: 'echo', value: 'still works' })).toBe('still works');
  });
});

describe('WorkerDiedError: exitCode', () => {
  it.each([3, 7])('carries the code the thread exited with (process.exit(%i))', async (code) => {
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1 });
    pools.push(pool);
    const error = await pool.run({ op: 'exit', code }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerDiedError);
    expect((error as WorkerDiedError).exitCode).toBe(code);
  });

  it('is 1 for an uncaught error', async () => {
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1 });
    pools.push(pool);
    const error = await pool.run({ op: 'uncaught', message: 'boom' }).catch((e: unknown) => e);
    expect((error as WorkerDiedError).exitCode).toBe(1);
  });
});
