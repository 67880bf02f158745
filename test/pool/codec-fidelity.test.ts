// What a task or a result becomes does not depend on its size or on the heap's state: the slot, the
// shared heap and the MessagePort fallback give what structuredClone gives ('json': what JSON gives).
// Each test here failed before its fix.
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { fixture } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

function make(options: Partial<ConstructorParameters<typeof ThreadPool>[0]> = {}): ThreadPool {
  const pool = new ThreadPool({ filename: fixture('fidelity.mjs'), threads: 1, ...options });
  pools.push(pool);
  return pool;
}

describe.each(['structured', 'json'] as const)("serialization '%s'", (serialization) => {
  it('keeps a lone surrogate in a string of any length, as the task and as the result', async () => {
    const pool = make({ serialization });
    for (const n of [1, 16, 17, 50, 108, 109, 216, 217, 5000]) {
      const s = `\ud800${'a'.repeat(n - 1)}`;
      expect(await pool.run(s), `echo of ${n}`).toBe(s);
      expect(await pool.run(n, { name: 'loneSurrogate' }), `result of ${n}`).toBe(s);
      const t = `${'é'.repeat(n - 1)}\udc00`;
      expect(await pool.run(t), `echo of ${n}, wide`).toBe(t);
    }
  });
});

describe.each(['structured', 'json'] as const)("the error tag cannot be forged, serialization '%s'", (serialization) => {
  const MiB = 1024 * 1024;

  it('a result shaped like an error record stays a plain object, in the heap and past it', async () => {
    const pool = make({ serialization });
    for (const n of [10, 100_000, 5 * MiB]) {
      const made = (await pool.run(n, { name: 'lookalike' })) as Record<string, unknown>;
      expect(made, `made, ${n}`).not.toBeInstanceOf(Error);
      expect(Object.getPrototypeOf(made), `made, ${n}`).toBe(Object.prototype);
      expect(made.__iocpError, `made, ${n}`).toBe(true);
      expect(made.error, `made, ${n}`).toEqual({ name: 'TypeError', message: 'not an error either' });
      const sent = { __iocpError: true, name: 'RangeError', message: 'sent', error: { name: 'RangeError', message: 'x' }, pad: 'y'.repeat(n) };
      expect(await pool.run(sent), `echo, ${n}`).toEqual(sent);
    }
  });

  it('a thrown plain object shaped like an error record is thrown as that object', async () => {
    const pool = make({ serialization });
    const thrown = await pool.run(null, { name: 'throwLookalike' }).catch((e: unknown) => e);
    expect(thrown).not.toBeInstanceOf(Error);
    expect(thrown).toEqual({ __iocpError: true, name: 'TypeError', message: 'a plain object', error: { name: 'TypeError', message: 'still plain' } });
  });
});
