// Shared by the iocp-pool/piscina tests: fixture paths, a pool tracker, and a blocking-task handshake.
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import Piscina from '../../dist/piscina.js';

export const OPS = fileURLToPath(new URL('./fixtures/ops.mjs', import.meta.url));
export const LEGACY = fileURLToPath(new URL('./fixtures/legacy.cjs', import.meta.url));
export const FUNCTION_WITH_EXPORTS = fileURLToPath(new URL('./fixtures/function-with-exports.cjs', import.meta.url));
export const EXPORTS_OBJECT = fileURLToPath(new URL('./fixtures/exports-object.cjs', import.meta.url));

/** Pools made with it are destroyed after each test. */
export function pools(): (options?: ConstructorParameters<typeof Piscina>[0]) => Piscina {
  const made: Piscina[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((pool) => pool.destroy()));
  });
  return (options = {}) => {
    const pool = new Piscina({ filename: OPS, ...options });
    made.push(pool);
    return pool;
  };
}

/** A task that blocks its thread until released: `started` resolves once the handler runs. */
export function blocker(): { task: { op: 'block'; cell: Int32Array }; started: Promise<void>; release: () => void } {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const started = (async () => {
    while (Atomics.load(cell, 0) === 0) await Atomics.waitAsync(cell, 0, 0).value;
  })();
  return {
    task: { op: 'block', cell },
    started,
    release: () => {
      Atomics.store(cell, 0, 2);
      Atomics.notify(cell, 0);
    },
  };
}
