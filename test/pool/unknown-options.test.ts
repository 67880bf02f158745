// An option the pool does not know is a TypeError naming it, with the nearest known name: in
// JavaScript it would otherwise be ignored, and the pool run with a default the caller never chose.
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { fixture } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

function construct(options: Record<string, unknown>): () => ThreadPool {
  return () => {
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1, ...options } as never);
    pools.push(pool);
    return pool;
  };
}

describe('ThreadPool: unknown options', () => {
  it.each([
    ['maxThreads', 2, 'threads'],
    ['minWorkers', 1, 'minThreads'],
    ['closeTimeout', 100, 'close({ timeout })'],
    ['maxTasksPerWorker', 10, 'maxTasksPerThread'],
    ['idleTimout', 10, 'idleTimeout'],
    ['thread', 2, 'threads'],
    ['workerdata', {}, 'workerData'],
  ])('options.%s (%o) is a TypeError: did you mean %s?', (key, value, hint) => {
    expect(construct({ [key]: value })).toThrow(TypeError);
    expect(construct({ [key]: value })).toThrow(`options.${key} is not an option: did you mean ${hint}?`);
  });

  it('names every option when none is near', () => {
    expect(construct({ recordTiming: 2 })).toThrow(/options\.recordTiming is not an option: the options are filename, name, threads, .*backend/);
  });

  it('ignores an unknown key whose value is undefined (it asks for nothing), and accepts every known option', async () => {
    const pool = construct({ maxThreads: undefined, minThreads: 1, idleTimeout: 1000, spinCount: 10, stdout: false })();
    expect(await pool.run({ op: 'echo', value: 1 })).toBe(1);
  });
});

describe('ThreadPool: unknown run() options', () => {
  it.each([
    ['nmae', 'name'],
    ['timeOut', 'timeout'],
    ['onprogress', 'onProgress'],
    ['signl', 'signal'],
  ])('run() options.%s rejects with a TypeError: did you mean %s?', async (key, hint) => {
    const pool = construct({})();
    await expect(pool.run({ op: 'echo', value: 1 }, { [key]: 1 } as never)).rejects.toThrow(
      new TypeError(`run() options.${key} is not an option: did you mean ${hint}?`),
    );
    expect(await pool.run({ op: 'echo', value: 2 }, { name: undefined, timeout: 5000 })).toBe(2);
  });
});
