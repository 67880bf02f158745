/**
 * The pool as seen from inside one of its threads: `currentPool()`.
 *
 * The worker runtime (worker/pool-client.ts, its own bundle) installs the client on
 * globalThis under a registered symbol, so the user's module finds it
 * whichever copy of this package it imported (ESM or CommonJS build).
 */

import type { TransferListItem } from 'node:worker_threads';

/** The options of `currentPool().run(task, options)` inside a pool thread. @group Worker modules */
export interface RunInWorkerOptions {
  /** Aborts the sub-task: as the `signal` of the owner's `run()`. */
  signal?: AbortSignal;
  /** Objects transferred (not copied) with the task. */
  transferList?: readonly TransferListItem[];
}

/** The pool as seen from inside one of its threads: what `currentPool()` returns there. @group Worker modules */
export interface PoolClient {
  /** The `workerData` option given to `new ThreadPool()`. */
  readonly workerData: unknown;
  /** This thread's id in the pool (not worker_threads.threadId). */
  readonly workerId: number;
  /**
   * Posts a packet on the pool's port, exactly like the owner's
   * `queueRequest`: the handler runs on whichever thread takes it — possibly
   * this one, once its current handler returns. Never blocks; false when
   * the queue is full or the pool is closing.
   */
  queueRequest(wParam: number): boolean;
  /**
   * Runs a task on the pool and resolves with its result. Await it only
   * from an async handler: while this thread awaits, it takes other packets
   * (its own sub-tasks included), so fan-out cannot deadlock.
   */
  run<R = unknown>(task: unknown, options?: RunInWorkerOptions): Promise<R>;
  /**
   * A Uint8Array of byteLength bytes in the pool's shared heap, as the owner's `pool.alloc()`:
   * returned in a result (or passed to a sub-task) it crosses by reference. A RangeError when
   * the heap cannot serve it. Its `buffer` is the whole heap segment, shared with other views
   * and other tasks' payloads: use only the view's own bytes (docs/pool.md, "alloc() and free()").
   */
  alloc(byteLength: number): Uint8Array;
  /**
   * Gives back a view from alloc() (this thread's, another's or the owner's): exactly such a view,
   * its block from its first byte with the byteLength alloc() was asked for. A TypeError when it
   * is not one (a subarray, another length or block, a foreign view), or is already free.
   */
  free(view: ArrayBufferView): void;
}

export const CLIENT_KEY = Symbol.for('iocp-pool.client');

/** The pool this code runs in, or null outside a pool thread. @group Worker modules */
export function currentPool(): PoolClient | null {
  return ((globalThis as Record<symbol, unknown>)[CLIENT_KEY] as PoolClient | undefined) ?? null;
}
