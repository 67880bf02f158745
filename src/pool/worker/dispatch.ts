/**
 * A packet taken from the task port, run: a queueRequest(wParam) calls the
 * handler with the number; a run() task (its packet names an arena slot,
 * pool/layout.ts) is claimed, decoded, handed to the handler, and its result (or
 * error) written back into the slot before the result packet is posted.
 */
import { cloneError, errorToRecord, recordToError, type ThrownRecord } from '../../codec/error-record.js';
import { type Carried, transferOf } from '../../codec/carried.js';
import { TAG_FALLBACK } from '../../codec/slot-views.js';
import {
  A_REQUESTS,
  A_RESULTS,
  A_SENTINELS,
  A_WAKE,
  A_STARTED,
  CANCELLED,
  DONE,
  F_PROGRESS,
  F_TIMED,
  HANDLER_SHIFT,
  K_REQUEST,
  K_TASK,
  QUEUED,
  R_CANCELLED,
  R_ERROR,
  R_ERROR_MESSAGE,
  R_OK,
  R_OK_MESSAGE,
  RUNNING,
  SENTINEL,
  slotWord,
  T_FLAGS,
  T_OWNER,
  T_RUN,
  T_START,
  T_STATE,
  T_TAG,
  T_TICKET,
} from '../layout.js';
import type { CompletionPacket } from '../../port/index.js';
import type { ModuleHandlers } from './module.js';
import { requestTaken } from '../requests.js';
import { outputFlushed, outputPending } from './output.js';
import { channelSeq, controllers, F_CONTROLLED, makeContext, NO_SIGNAL, progressOpen, toChannel } from './task-context.js';
import { data, f64, i32, results, send, state, views } from './thread.js';

let handlers: ModuleHandlers;
/** Called when a pending handler settles (the loop may be waiting for the last one to exit). */
let onSettled: () => void;
/** Fails the thread's port calls the way the loop does (a closed port means destroy()). */
let onPortError: (error: unknown) => void;

/** Payloads asked of the main thread (too large for the slot, or with a transferList), by slot. */
const fetches = new Map<number, (payload: { task?: Carried; error?: ThrownRecord }) => void>();

/** Called as a pending handler settles, before its result goes out (./share.ts settling). */
let onSettling: () => void;

export function initDispatch(h: ModuleHandlers, settled: () => void, portError: (error: unknown) => void, settling: () => void): void {
  handlers = h;
  onSettled = settled;
  onPortError = portError;
  onSettling = settling;
}

/** The main thread aborted the task with `ticket` in `slot` (only that task: the slot may hold another now). */
export function abortTask(slot: number, ticket: number, timeout: boolean): void {
  const running = controllers.get(slot);
  if (running === undefined || running.ticket !== ticket) return;
  running.abort(timeout ? new DOMException('The task ran past its timeout', 'TimeoutError') : new DOMException('The task was aborted', 'AbortError'));
}

/** The main thread sent the payload this thread fetched. */
export function payloadArrived(slot: number, payload: { task?: Carried; error?: ThrownRecord }): void {
  const resolve = fetches.get(slot);
  fetches.delete(slot);
  resolve?.(payload);
}

function settled(): void {
  state.pending--;
  onSettled();
}

/**
 * This thread holds `packet` across a turn of its event loop (loop.ts, the end of a slice): for a
 * task packet (returns true) it names itself in the slot (T_OWNER) first, so that if it dies there — a handler's timer that
 * throws runs in that turn — the main thread hands the packet to another thread (pool/main/tasks.ts
 * failOwned) instead of losing the task (A6). (The portable port names the packet too, from the
 * take on; the native one does not.)
 */
export function hold(packet: CompletionPacket): boolean {
  if (packet.bytesTransferred !== K_TASK) return false;
  const slot = packet.overlapped;
  // A4: runTask reports a bad index; here it is only not marked.
  if (slot >>> 0 !== slot || slot >= views.slots) return false;
  Atomics.store(i32, slotWord(data.slotBytes, slot) + T_OWNER, data.workerId);
  return true;
}

export function dispatch(packet: CompletionPacket): void {
  if (!state.working) {
    // Once: this thread works. If it dies later, that is no module failing at start-up
    // (pool/main/deaths.ts counts early deaths of threads that never took a packet).
    state.working = true;
    send({ type: 'working' });
  }
  if (packet.bytesTransferred === K_TASK) {
    runTask(packet.overlapped);
    return;
  }
  if (packet.bytesTransferred !== K_REQUEST) throw new RangeError(`unknown pool packet kind ${packet.bytesTransferred}`);
  if (packet.overlapped === SENTINEL) {
    state.stopping = true;
    Atomics.add(i32, A_SENTINELS, 1);
    return;
  }
  state.taken++;
  requestTaken(i32);
  runRequest(packet.completionKey);
}

// ──────────────────────────── requests ────────────────────────────

function runRequest(wParam: number): void {
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

// ───────────────────────────── tasks ─────────────────────────────

function runTask(slot: number): void {
  // A4: the index came out of shared memory; check it before it addresses anything.
  if (slot >>> 0 !== slot || slot >= views.slots) throw new RangeError(`task packet names slot ${slot} of ${views.slots}`);
  const w = slotWord(data.slotBytes, slot);
  i32[w + T_OWNER] = data.workerId;
  // A2: the main thread may be cancelling this very slot; one CAS decides.
  if (Atomics.compareExchange(i32, w + T_STATE, QUEUED, RUNNING) !== QUEUED) {
    if (Atomics.load(i32, w + T_STATE) === CANCELLED) {
      // A6: marked before the acknowledgement, so a death in between is acknowledged for us.
      Atomics.store(i32, w + T_STATE, DONE + R_CANCELLED);
      postResult(R_CANCELLED, slot, w);
      return;
    }
    throw new RangeError(`task slot ${slot} is in state ${Atomics.load(i32, w + T_STATE)}, not queued`);
  }
  Atomics.add(i32, A_STARTED, 1);
  state.taken++;
  const flags = i32[w + T_FLAGS]!;
  if (i32[w + T_TAG] === TAG_FALLBACK) {
    // Large payload or transferList: ask the main thread for it (it knows no thread in advance).
    state.pending++;
    new Promise<{ task?: Carried; error?: ThrownRecord }>((resolve) => {
      fetches.set(slot, resolve);
      send({ type: 'fetch', slot });
    }).then((payload) => {
      let task: unknown;
      try {
        if (payload.error !== undefined) throw recordToError(payload.error);
        task = views.uncarry(payload.task);
      } catch (error) {
        finish(slot, w, flags, 0, error, true);
        settled();
        return;
      }
      start(slot, w, flags, task);
      settled();
    });
    return;
  }
  let task: unknown;
  try {
    task = views.decode(w);
  } catch (error) {
    finish(slot, w, flags, 0, error, true);
    return;
  }
  start(slot, w, flags, task);
}

function start(slot: number, w: number, flags: number, task: unknown): void {
  let context = NO_SIGNAL;
  if ((flags & (F_CONTROLLED | F_PROGRESS)) !== 0) context = makeContext(slot, w, flags);
  const t0 = (flags & F_TIMED) !== 0 ? performance.now() : 0;
  let result: unknown;
  try {
    result = handlers.at(flags >>> HANDLER_SHIFT)(task, context);
  } catch (error) {
    finish(slot, w, flags, t0, error, true);
    return;
  }
  if (isThenable(result)) {
    state.pending++;
    result.then(
      (value) => {
        onSettling();
        finish(slot, w, flags, t0, value, false);
        settled();
      },
      (error: unknown) => {
        onSettling();
        finish(slot, w, flags, t0, error, true);
        settled();
      },
    );
    return;
  }
  finish(slot, w, flags, t0, result, false);
}

/** Writes the result (or error) into the slot — or sends it by MessagePort if it does not fit — then posts the result packet. */
function finish(slot: number, w: number, flags: number, t0: number, value: unknown, isError: boolean): void {
  if ((flags & F_TIMED) !== 0) {
    const f = (w << 2) >> 3;
    f64[f + T_START] = performance.timeOrigin + t0;
    f64[f + T_RUN] = performance.now() - t0;
  }
  if ((flags & F_CONTROLLED) !== 0) controllers.delete(slot);
  if ((flags & F_PROGRESS) !== 0) {
    const progress = progressOpen.get(slot);
    if (progress !== undefined) progress.open = false;
    progressOpen.delete(slot);
    if (progress?.sent === true) {
      // After the last value, before the result: the main thread settles the task only once it has
      // read this, which it may get later than the packet (a listening port on Deno: channel.ts).
      toChannel({ kind: 'progress-end', seq: channelSeq, slot, ticket: i32[w + T_TICKET]! });
    } else {
      // Nothing was sent: say so in the slot (read after the packet), and the task's result waits
      // for no message. Most tasks with an onProgress never report (an adapter wires one to every job).
      i32[w + T_FLAGS] = flags & ~F_PROGRESS;
    }
  }
  let status: number;
  for (let attempt = 0; ; attempt++) {
    const out = isError ? errorToRecord(value) : value;
    try {
      // Errors always structured: they keep their type whatever the pool's serialization.
      if ((isError ? views.encodeStructured(w, out) : views.encode(w, out)) === TAG_FALLBACK) {
        const carried = views.carried(out);
        toChannel({ kind: 'result', seq: channelSeq, slot, value: carried }, transferOf(carried));
        status = isError ? R_ERROR_MESSAGE : R_OK_MESSAGE;
      } else {
        status = isError ? R_ERROR : R_OK;
      }
      break;
    } catch (codecError) {
      let error = codecError;
      // Not for the slot's codec: what postMessage can clone (a Blob, a KeyObject…) goes that way —
      // unless the 'json' codec refused a value (a cycle, a BigInt): that is JSON's answer.
      if (isError || views.serialization !== 'json') {
        try {
          toChannel({ kind: 'result', seq: channelSeq, slot, value: { value: out } });
          status = isError ? R_ERROR_MESSAGE : R_OK_MESSAGE;
          break;
        } catch (messageError) {
          error = messageError;
        }
      }
      if (attempt > 0) throw error;
      // The result cannot be cloned (a function, a class instance with private state…): the task fails with why.
      value = isError ? error : cloneError(`the result of ${handlers.describe(flags >>> HANDLER_SHIFT)}`, error);
      isError = true;
    }
  }
  // A6: the result is in the slot (or on its way by message) before the slot says so, and the
  // slot says so before the packet: a death between the two is delivered by the main thread.
  Atomics.store(i32, w + T_STATE, DONE + status);
  if (outputPending()) {
    // What the handler printed reaches the main thread before its result does (output.ts).
    state.pending++;
    void outputFlushed().then(() => {
      postResult(status, slot, w);
      settled();
    });
    return;
  }
  postResult(status, slot, w);
}

function postResult(status: number, slot: number, w: number): void {
  // A7: the result port holds at most slots + 1 packets, so it cannot be full; a closed one means destroy().
  let posted: boolean;
  try {
    posted = results.post(status, i32[w + T_TICKET]!, slot);
  } catch (error) {
    onPortError(error);
    return;
  }
  // A broken invariant: die loudly; the slot says DONE, so the main thread delivers the result (A6).
  if (!posted) throw new Error(`iocp-pool: the result port is full (slot ${slot})`);
  // The main thread spins on this word when it expects a result soon, and sleeps on it otherwise:
  // wake it if it says it sleeps (pool/layout.ts A8). One notify per sleep: the first poster swaps the flag.
  Atomics.add(i32, A_RESULTS, 1);
  if (Atomics.load(i32, A_WAKE) !== 0 && Atomics.exchange(i32, A_WAKE, 0) !== 0) Atomics.notify(i32, A_RESULTS, 1);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}
