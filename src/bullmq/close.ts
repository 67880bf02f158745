/**
 * closeWorker(): graceful shutdown of a BullMQ worker and its pool, in that order.
 *
 * The worker first: it stops taking jobs and waits for the ones it holds, so
 * that when it has closed nothing of it runs in the pool any more and the
 * pool can close without failing a task. In the other order every job still
 * queued in the pool would get PoolClosedError: the processor would hand it
 * back to the queue, undone, instead of finishing it.
 *
 * With a deadline, no job is lost either: the jobs still running when it
 * passes are moved back to wait (first in line, for whichever worker takes
 * them next) and cancelled; their handlers get `grace` ms to return, then the
 * pool is destroyed. Without a deadline the pool closes normally.
 */
import type { CloseWorkerOptions, CloseWorkerResult, JobPool } from './types.js';
import { type AnyWorker, registryOf, releaseAll } from './worker.js';

const DEADLINE_REASON = 'closeWorker(): the shutdown deadline passed; the job goes back to the queue';

/** Resolves true if promise settles within ms, false otherwise (and clears its timer either way). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms === Infinity) {
    await promise;
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Closes the worker(s), then the pool. Every job either completes or goes
 * back to the queue: none is failed by the shutdown, none is left active.
 * Several workers sharing one pool: pass them all, they close together.
 */
export async function closeWorker(
  workers: AnyWorker | readonly AnyWorker[],
  pool: JobPool,
  options: CloseWorkerOptions = {},
): Promise<CloseWorkerResult> {
  const list: readonly AnyWorker[] = Array.isArray(workers) ? workers : [workers as AnyWorker];
  const timeout = milliseconds(options.timeout, Infinity, 'timeout');
  const grace = milliseconds(options.grace, 0, 'grace');
  const closing = Promise.all(list.map((worker) => worker.close()));
  if (timeout === Infinity) {
    await closing;
    await pool.close();
    return { requeued: 0, destroyed: false };
  }
  const start = performance.now();
  let requeued = 0;
  let destroyed = false;
  if (!(await within(closing, timeout))) {
    const registries = [];
    let signalled = true;
    for (const worker of list) {
      const registry = registryOf(worker);
      if (registry === undefined) continue; // not made by createWorker(): BullMQ's own close() decides
      registries.push(registry);
      if (!releaseAll(worker, registry, DEADLINE_REASON)) signalled = false;
    }
    // Jobs without a signal wait on run() until the pool rejects it: no grace for them.
    destroyed = !signalled;
    const destroying = signalled ? undefined : pool.destroy();
    // Each released job is one Redis call away from closed. A job BullMQ had
    // fetched but not yet handed to the processor is released when it is.
    await closing;
    await destroying;
    for (const registry of registries) requeued += registry.released;
  }
  if (destroyed) return { requeued, destroyed };
  // Cancelled handlers may still run: they get the grace, the rest get what is left of the deadline.
  const left = requeued > 0 ? grace : Math.max(0, timeout - (performance.now() - start));
  destroyed = !(await within(pool.close(), left));
  if (destroyed) await pool.destroy();
  return { requeued, destroyed };
}

function milliseconds(value: unknown, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new RangeError(`closeWorker(): ${what} must be a number of milliseconds ≥ 0 (got ${String(value)})`);
  }
  return value;
}
