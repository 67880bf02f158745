/**
 * The queueRequest share of the task port, as the owner's thread and the pool threads both use it
 * (pool.queueRequest and currentPool().queueRequest are one operation: CThreadPools::QueueRequest,
 * PostQueuedCompletionStatus(port, 0, wParam, NULL)).
 *
 * The task port holds queueCapacity + slots packets: one per run() slot, reserved, and at most
 * queueCapacity queueRequest packets (and the close() sentinels). Two arena words count the
 * request packets (pool/layout.ts): A_REQ_POSTED, added to by whoever posts one after its post,
 * and A_REQ_TAKEN, added to by the thread that takes one. Their difference is the request queue.
 * A taker may count before its poster does, so the difference can read −1 for an instant; every
 * reader below tolerates it.
 */
import type { CompletionPort } from '../port/index.js';
import { A_REQ_POSTED, A_REQ_TAKEN, K_REQUEST } from './layout.js';

/** queueRequest packets posted and not yet taken (may read −1 for an instant, see above). */
export function requestsQueued(i32: Int32Array): number {
  return (Atomics.load(i32, A_REQ_POSTED) - Atomics.load(i32, A_REQ_TAKEN)) | 0;
}

/** A TypeError naming wParam unless it is a finite number. */
export function checkWParam(wParam: unknown): void {
  if (typeof wParam !== 'number' || !Number.isFinite(wParam)) {
    throw new TypeError(`wParam must be a finite number, got ${typeof wParam === 'number' ? wParam : typeof wParam}`);
  }
}

/**
 * Posts (K_REQUEST, wParam, 0) unless the request share is full (false). Throws what post()
 * throws (PortClosedError on a closed port).
 */
export function postRequest(port: CompletionPort, i32: Int32Array, queueCapacity: number, wParam: number): boolean {
  if (requestsQueued(i32) >= queueCapacity) return false;
  if (!port.post(K_REQUEST, wParam, 0)) return false;
  Atomics.add(i32, A_REQ_POSTED, 1);
  return true;
}

/** A thread took a request packet (the worker's dispatch, before it runs the handler). */
export function requestTaken(i32: Int32Array): void {
  Atomics.add(i32, A_REQ_TAKEN, 1);
}
