/**
 * The pool as seen from inside one of its threads: `currentPool()`.
 *
 * The worker runtime (worker/pool-client.ts, its own bundle) installs the client on
 * globalThis under a registered symbol, so the user's module finds it
 * whichever copy of this package it imported (ESM or CommonJS build).
 */

import type { TransferListItem } from 'node:worker_threads';

export interface RunInWorkerOptions {
  signal?: AbortSignal;
  transferList?: readonly TransferListItem[];
}

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
}

export const CLIENT_KEY = Symbol.for('iocp-pool.client');

/** The pool this code runs in, or null outside a pool thread. */
export function currentPool(): PoolClient | null {
  return ((globalThis as Record<symbol, unknown>)[CLIENT_KEY] as PoolClient | undefined) ?? null;
}
