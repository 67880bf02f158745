/**
 * currentPool() inside a pool thread: the pool as its handlers see it. The
 * client is installed on globalThis under a registered symbol (client.ts),
 * so the user's module finds it whichever copy of this package it imported.
 */
import { PortClosedError } from '../../port/index.js';
import { CLIENT_KEY, type PoolClient, type RunInWorkerOptions } from '../client.js';
import { recordToError, type ThrownRecord } from '../../codec/error-record.js';
import { NO_HEAP } from '../../heap/directory.js';
import { checkWParam, postRequest } from '../requests.js';
import { data, heap, i32, port, send } from './thread.js';

/** run() calls made from this thread, by id, until the main thread answers. */
const calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
let nextCallId = 1;

/** The main thread's answer to a run() this thread made. */
export function runAnswered(id: number, ok: boolean, value: unknown): void {
  const call = calls.get(id);
  calls.delete(id);
  if (call === undefined) return;
  if (ok) call.resolve(value);
  else call.reject(recordToError(value as ThrownRecord));
}

export function installClient(): void {
  const client: PoolClient = {
    workerData: data.workerData,
    workerId: data.workerId,
    queueRequest(wParam: number): boolean {
      checkWParam(wParam);
      try {
        return postRequest(port, i32, data.queueCapacity, wParam);
      } catch (error) {
        if (error instanceof PortClosedError) return false;
        throw error;
      }
    },
    alloc(byteLength: number): Uint8Array {
      if (typeof byteLength !== 'number') throw new TypeError(`byteLength must be an integer ≥ 0, got ${typeof byteLength}`);
      if (heap === undefined) throw new Error(NO_HEAP);
      return heap.alloc(byteLength);
    },
    free(view: ArrayBufferView): void {
      if (!ArrayBuffer.isView(view)) throw new TypeError(`free() takes a view returned by alloc(), got ${view === null ? 'null' : typeof view}`);
      heap?.free(view);
    },
    run<R>(task: unknown, options?: RunInWorkerOptions): Promise<R> {
      const id = nextCallId++;
      const signal = options?.signal;
      if (signal?.aborted) return Promise.reject(new DOMException('The task was aborted', 'AbortError'));
      return new Promise<R>((resolve, reject) => {
        calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
        try {
          send({ type: 'run', id, task, hasSignal: signal !== undefined }, options?.transferList);
        } catch (error) {
          calls.delete(id);
          reject(error);
          return;
        }
        signal?.addEventListener('abort', () => send({ type: 'abort-run', id }), { once: true });
      });
    },
  };
  (globalThis as Record<symbol, unknown>)[CLIENT_KEY] = client;
}
