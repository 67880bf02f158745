// The shared heap with real threads: free() takes back exactly the views alloc() handed out.
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool } from '../../dist/index.js';
import { fixture } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

function make(options: Partial<ConstructorParameters<typeof ThreadPool>[0]> = {}): ThreadPool {
  const pool = new ThreadPool({ filename: fixture('heap-ops.mjs'), threads: 2, ...options });
  pools.push(pool);
  return pool;
}

describe('free() takes back exactly what alloc() handed out', () => {
  it('refuses a prefix of a view and a view built over a neighbouring block, on both sides', async () => {
    const pool = make();
    const a = pool.alloc(300);
    expect(() => pool.free(a.subarray(0, 100))).toThrow(TypeError); // a prefix: same offset, shorter
    expect(() => pool.free(new Uint8Array(a.buffer, a.byteOffset, 200))).toThrow(TypeError);
    const b = pool.alloc(300);
    expect(b.buffer).toBe(a.buffer); // the next block of the same segment
    // Over b's block, built from a's buffer, but not the view alloc() handed out for it: refused, and b stays b's.
    expect(() => pool.free(new Uint8Array(a.buffer, b.byteOffset, 100))).toThrow(TypeError);
    expect(pool.stats().heap.blocks).toBe(2);
    const c = pool.alloc(300);
    expect(c.byteOffset).not.toBe(b.byteOffset);
    // Exactly the block and its length, through any view type, is the block.
    pool.free(new Uint16Array(b.buffer, b.byteOffset, 150));
    expect(() => pool.free(b)).toThrow(/already free/);
    pool.free(a);
    pool.free(c);
    expect(pool.stats().heap.blocks).toBe(0);
    const inThread = (await pool.run(null, { name: 'misuse' })) as Record<string, string>;
    expect(inThread).toMatchObject({ prefix: 'TypeError', neighbour: 'TypeError', subarray: 'TypeError' });
  });
});
