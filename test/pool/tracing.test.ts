// diagnostics_channel: the TracingChannel 'iocp-pool:run' around each run().
import { tracingChannel } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { RUN_CHANNEL, type RunTraceContext, ThreadPool } from '../../dist/index.js';
import { fixture } from './helpers.js';

const pools: ThreadPool[] = [];
const unsubscribes: (() => void)[] = [];
afterEach(async () => {
  for (const u of unsubscribes.splice(0)) u();
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

/** Subscribes to every event of the channel; returns what each saw, in order. */
function record(): [string, RunTraceContext, Partial<RunTraceContext>][] {
  const seen: [string, RunTraceContext, Partial<RunTraceContext>][] = [];
  const channel = tracingChannel<unknown, RunTraceContext>('iocp-pool:run');
  const on = (event: string) => (context: RunTraceContext) =>
    seen.push([event, context, { name: context.name, task: context.task, result: context.result, error: context.error }]);
  const handlers = { start: on('start'), end: on('end'), asyncStart: on('asyncStart'), asyncEnd: on('asyncEnd'), error: on('error') };
  channel.subscribe(handlers);
  unsubscribes.push(() => channel.unsubscribe(handlers));
  return seen;
}

describe("diagnostics_channel 'iocp-pool:run'", () => {
  it('is the name exported as RUN_CHANNEL', () => {
    expect(RUN_CHANNEL).toBe('iocp-pool:run');
  });

  it('publishes start, end, asyncStart, asyncEnd for a run() that resolves, with its task, name and result', async () => {
    const pool = new ThreadPool({ filename: fixture('handlers.mjs'), threads: 1 });
    pools.push(pool);
    const seen = record();
    expect(await pool.run(21, { name: 'double' })).toBe(42);
    expect(seen.map(([event]) => event)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    const context = seen[0]![1];
    for (const [, c] of seen) expect(c).toBe(context); // one context object per run()
    expect(context.pool).toBe(pool);
    expect(seen[0]![2]).toEqual({ name: 'double', task: 21, result: undefined, error: undefined });
    expect(seen[2]![2]).toMatchObject({ result: 42 });
  });

  it('publishes error (then asyncStart, asyncEnd) for a run() that rejects; names the default handler', async () => {
    const pool = new ThreadPool({ filename: fixture('ops.mjs'), threads: 1 });
    pools.push(pool);
    const seen = record();
    await expect(pool.run({ op: 'throw', message: 'no' })).rejects.toThrow('no');
    expect(seen.map(([event]) => event)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    expect(seen[0]![2].name).toBe('default');
    expect((seen[2]![2].error as Error).message).toBe('no');
  });

  it('uses the pool’s name option when run() names none', async () => {
    const pool = new ThreadPool({ filename: fixture('handlers.mjs'), threads: 1, name: 'double' });
    pools.push(pool);
    const seen = record();
    expect(await pool.run(2)).toBe(4);
    expect(seen[0]![2].name).toBe('double');
  });

  it('publishes nothing once unsubscribed, and run() works the same', async () => {
    const pool = new ThreadPool({ filename: fixture('handlers.mjs'), threads: 1 });
    pools.push(pool);
    const seen = record();
    for (const u of unsubscribes.splice(0)) u();
    expect(await pool.run(1, { name: 'double' })).toBe(2);
    expect(seen).toEqual([]);
  });
});
