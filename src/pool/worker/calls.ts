/**
 * The handler calls a pool thread makes that have no arena slot: a queueRequest(wParam) taken
 * from the port (the handler gets the number; its failure is reported by message, its completion
 * counted in A_REQUESTS), and a pool.broadcast() sent by message (run here once, answered by
 * message). Apart from run() tasks (./dispatch.ts) because nothing of theirs is in shared memory
 * but a counter: no claim, no slot, no result packet. A pending one counts in state.pending like a
 * task, so a thread that takes its sentinel answers before it leaves.
 */
import { cloneError, errorToRecord } from '../../codec/error-record.js';
import { A_REQUESTS } from '../layout.js';
import type { HandlerContext } from '../types.js';
import type { ModuleHandlers } from './module.js';
import { i32, send, state } from './thread.js';

/** A progress() that reports nothing (a task without onProgress). */
export function ignoreProgress(): void {}

/** Handed to handlers of tasks without a signal: one frozen object, no allocation per task. */
export const NO_SIGNAL: HandlerContext = Object.freeze({ signal: undefined, progress: ignoreProgress });

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

let handlers: ModuleHandlers;
/** Called as a pending call settles, before its answer goes out (./share.ts settling). */
let onSettling: () => void;
/** Called once a pending call settled (counts it out of state.pending). */
let settled: () => void;

export function initCalls(h: ModuleHandlers, settling: () => void, done: () => void): void {
  handlers = h;
  onSettling = settling;
  settled = done;
}

// ──────────────────────────── requests ────────────────────────────

export function runRequest(wParam: number): void {
  let result: unknown;
  try {
    result = handlers.at(0)(wParam, NO_SIGNAL);
  } catch (error) {
    requestDone(wParam, error);
    return;
  }
  if (isThenable(result)) {
    state.pending++;
    result.then(
      () => {
        onSettling();
        requestDone(wParam, undefined);
        settled();
      },
      (error: unknown) => {
        onSettling();
        requestDone(wParam, error ?? new Error('queueRequest handler rejected with no reason'));
        settled();
      },
    );
    return;
  }
  Atomics.add(i32, A_REQUESTS, 1);
}

function requestDone(wParam: number, error: unknown): void {
  Atomics.add(i32, A_REQUESTS, 1);
  if (error !== undefined) send({ type: 'request-error', wParam, error: errorToRecord(error) });
}

// ──────────────────────────── broadcast ────────────────────────────

/** pool.broadcast(): run the handler here once, outside the port, and answer by message. */
export function runBroadcast(id: number, task: unknown, name: string | undefined): void {
  const answer = (ok: boolean, value: unknown): void => {
    try {
      send({ type: 'broadcast-result', id, ok, value: ok ? value : errorToRecord(value) });
    } catch (error) {
      send({ type: 'broadcast-result', id, ok: false, value: errorToRecord(cloneError('the result of a broadcast', error)) });
    }
  };
  let result: unknown;
  try {
    result = handlers.named(name)(task, NO_SIGNAL);
  } catch (error) {
    answer(false, error);
    return;
  }
  if (!isThenable(result)) {
    answer(true, result);
    return;
  }
  // Pending like a task: a thread that takes its sentinel meanwhile answers before it leaves.
  state.pending++;
  result.then(
    (value) => {
      onSettling();
      answer(true, value);
      settled();
    },
    (error: unknown) => {
      onSettling();
      answer(false, error);
      settled();
    },
  );
}
