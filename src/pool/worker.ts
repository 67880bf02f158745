/**
 * The pool thread: the ServerWorkerThread loop of the original articles on a completion port,
 *
 *   for (;;) {
 *     GetQueuedCompletionStatus(port, &bytes, &key, &overlapped, INFINITE);
 *     if (overlapped == -1) break;           // Close(): one sentinel per thread
 *     handler(key);                          // QueueRequest(wParam)
 *   }
 *
 * plus run() tasks, whose packets name an arena slot (see layout.ts), made a
 * good Node citizen: the thread's event loop runs while it waits and, on a
 * stated bound, while it works (see "The event-loop rule" below).
 *
 * Waiting uses getAsync, which gives the thread's running slot back, so a
 * thread whose handlers await counts as blocked for the concurrency cap (the
 * IOCP rule) and takes more packets meanwhile — its own fan-out sub-tasks
 * included, which is why fan-out cannot deadlock.
 */
import { parentPort, type TransferListItem, workerData as rawWorkerData } from 'node:worker_threads';
import { CompletionPort, PortClosedError } from '../port/index.js';
// This runtime is its own bundle (dist/worker.js): register the native
// backend here too, or CompletionPort.from() could not attach to the ports of
// a pool created with backend 'native'. koffi loads only if one is attached.
import '../native/index.js';
import type { CompletionPacket } from '../port/index.js';
import { CLIENT_KEY, type PoolClient, type RunInWorkerOptions } from './client.js';
import { ArenaViews, errorToRecord, recordToError, TAG_FALLBACK } from './codec.js';
import {
  A_INFLIGHT,
  A_LIVE,
  A_MIN,
  A_REQUESTS,
  A_RESULTS,
  A_SENTINELS,
  A_SPIN,
  A_REQ_POSTED,
  A_REQ_TAKEN,
  A_STARTED,
  CANCELLED,
  DONE,
  F_SIGNAL,
  F_TIMED,
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
} from './layout.js';
import {
  EXIT_PORT_CLOSED,
  EXIT_RETIRED,
  EXIT_SENTINEL,
  type FromWorker,
  type PoolWorkerData,
  type ToWorker,
} from './protocol.js';

type Handler = (task: unknown, context: { signal: AbortSignal | undefined }) => unknown;

const data = rawWorkerData as PoolWorkerData;
const parent = parentPort!;
const port = CompletionPort.from(data.taskPort, { spinCount: data.spinCount });
const results = CompletionPort.from(data.resultPort);
const views = new ArenaViews(data.arena, data.slots, data.slotBytes);
const i32 = views.i32;
const f64 = views.f64;
const workerId = data.workerId;
const slotBytes = data.slotBytes;
const idleTimeout = data.idleTimeout;

/** Handed to handlers of tasks without a signal: one frozen object, no allocation per task. */
const NO_SIGNAL = Object.freeze({ signal: undefined });

let handler: Handler;
/** Handlers (and payload fetches) that returned a promise and have not settled. */
let pending = 0;
/** Set when this thread took its sentinel: no more get(); exit once `pending` is 0. */
let stopping = false;
/** Running tasks that were submitted with a signal, by slot: their controller and ticket (T_TICKET). */
const controllers = new Map<number, { controller: AbortController; ticket: number }>();
/** Fallback payloads asked of the main thread, by slot. */
const fetches = new Map<number, (payload: { task?: unknown; error?: unknown }) => void>();
/** run() calls made from this thread, by id. */
const calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
let nextCallId = 1;

function send(message: FromWorker, transferList?: readonly TransferListItem[]): void {
  parent.postMessage(message, transferList as TransferListItem[] | undefined);
}

parent.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'payload': {
      const resolve = fetches.get(message.slot);
      fetches.delete(message.slot);
      resolve?.(message);
      break;
    }
    case 'abort': {
      // Only the task the abort names: its slot may have been freed and reused on this thread
      // between the main thread's look and this message.
      const running = controllers.get(message.slot);
      if (running !== undefined && running.ticket === message.ticket) {
        running.controller.abort(new DOMException('The task was aborted', 'AbortError'));
      }
      break;
    }
    case 'run-result': {
      const call = calls.get(message.id);
      calls.delete(message.id);
      if (call === undefined) break;
      if (message.ok) call.resolve(message.value);
      else call.reject(recordToError(message.value));
      break;
    }
  }
});
// The parent port stays ref'd: in async mode the only other thing pending is Atomics.waitAsync,
// which does not keep an event loop alive, and this thread must not end on its own — it leaves
// only by process.exit (sentinel, retirement, closed port). The owner's worker.unref() decides
// whether an idle pool keeps the process alive.

const client: PoolClient = {
  workerData: data.workerData,
  workerId,
  queueRequest(wParam: number): boolean {
    if (typeof wParam !== 'number' || !Number.isFinite(wParam)) {
      throw new TypeError(`wParam must be a finite number, got ${String(wParam)}`);
    }
    // The same bound as the owner's queueRequest (see layout.ts A_REQ_POSTED).
    if (((Atomics.load(i32, A_REQ_POSTED) - Atomics.load(i32, A_REQ_TAKEN)) | 0) >= data.queueCapacity) return false;
    try {
      if (!port.post(K_REQUEST, wParam, 0)) return false;
      Atomics.add(i32, A_REQ_POSTED, 1);
      return true;
    } catch (error) {
      if (error instanceof PortClosedError) return false;
      throw error;
    }
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

async function load(): Promise<Handler> {
  // What is alive on the event loop before the user's module runs (after one turn, when start-up
  // requests have ended): anything more later is the user's (see loopHasWork).
  await new Promise<void>((resolve) => setImmediate(resolve));
  baselineResources = process.getActiveResourcesInfo().length;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(data.filename)) as Record<string, unknown>;
  } catch (error) {
    const e = new Error(`worker module ${data.filename} failed to load: ${(error as Error)?.message ?? String(error)}`);
    (e as Error & { cause: unknown }).cause = error;
    throw e;
  }
  // ESM default, a named `handler`, or a CommonJS module.exports (function or { handler } / { default }).
  const def = mod.default as Record<string, unknown> | ((...a: unknown[]) => unknown) | undefined;
  const candidates = [def, mod.handler, (def as Record<string, unknown> | undefined)?.handler, (def as Record<string, unknown> | undefined)?.default];
  for (const c of candidates) if (typeof c === 'function') return c as Handler;
  throw new TypeError(
    `worker module ${data.filename} exports no function: default-export the handler (or export a function named "handler")`,
  );
}

// ───────────────────────────── the loop ─────────────────────────────

// ── The event-loop rule ──
// A pool thread is a Node thread: handlers set timers, write to stdout (a worker's stdout is a
// stream whose every write after the first waits for the main thread's acknowledgement, which
// arrives as an event), start I/O. All of that waits on this thread's event loop, so:
//  - an idle thread waits with getAsync: after a spin and a short block (BLOCK_MS, below) its wait
//    moves onto the event loop, which then runs until a packet comes;
//  - a busy thread takes packets back to back (port.get(0): no lock, no promise while packets are
//    queued) for SLICE_MS; if its event loop has not turned by itself meanwhile (a wait that
//    slept), it lets it turn once (setImmediate) before it runs its next packet.
// An immediate queued from the poll phase runs in the same iteration's check phase, before the
// next timers phase, so a busy thread's timer fires at most two slices late, plus the handler
// running when they end — a handler that computes for 100 ms holds its loop for 100 ms.
/** Longest run of back-to-back packets before this thread's event loop gets a turn (ms). */
const SLICE_MS = 2;
/**
 * Reading the clock costs ~70 ns here against ~1 µs for a tiny task, so the slice is checked every
 * `checkEvery` packets: doubled (to MAX_CHECK_EVERY) while checks come much closer together than a
 * slice, halved when they do not. A run of slow handlers right after a stream of tiny ones can
 * therefore stretch one slice by at most MAX_CHECK_EVERY − 1 handlers.
 */
const MAX_CHECK_EVERY = 16;
let checkEvery = 1;
let untilCheck = 1;
let lastCheck = 0;
let sliceEnd = 0;
/** Set by an immediate queued when the slice began: the event loop has turned since. */
let turned = false;
const markTurn = (): void => {
  turned = true;
};

/** The slice is over and the loop has not turned: yield before the next packet runs. */
let sliceDue = false;

function newSlice(): void {
  sliceDue = false;
  turned = false;
  setImmediate(markTurn);
  lastCheck = performance.now();
  sliceEnd = lastCheck + SLICE_MS;
}

// ── Spin, block, or wait on the event loop ──
// The main thread measures which is faster for one-at-a-time run() and publishes it in A_SPIN
// (see latency.ts); with the pipe full (A_INFLIGHT > threads) a spinning waiter spares the main
// thread an Atomics.notify per post, so threads spin. After the spin a thread that has just gone
// idle blocks in Atomics.wait for up to BLOCK_MS — a wake-up from Atomics.wait costs less than
// one through Atomics.waitAsync and the event loop, and one-at-a-time tasks usually come back
// within it — and only then parks the wait on the event loop (same place in the LIFO order).
// That stall is the price of the cheap wake-up: a timer that falls due in it fires ≤ BLOCK_MS late.
// While a handler is pending, no spin and no block: its continuation needs the event loop now.
/** Longest a newly idle thread blocks before it waits on its event loop (ms). */
const BLOCK_MS = 1;
const SPIN_THEN_BLOCK = Object.freeze({ spinCount: data.spinCount, syncMs: BLOCK_MS });
const BLOCK = Object.freeze({ spinCount: 0, syncMs: BLOCK_MS });
const ASYNC = Object.freeze({ spinCount: 0, syncMs: 0 });
/**
 * The native backend runs every getAsync on a libuv thread-pool thread, which the whole process
 * shares with fs, dns and zlib (4 by default): its threads wait in a blocking get() whenever
 * their event loop has nothing to do, and with getAsync only while it has (see loopHasWork).
 */
const native = data.taskPort.backend === 'native';
/** Event-loop resources alive before the user's module loaded: this runtime's own port. */
let baselineResources = 0;

/** The pool thread's loop: take a packet, run it; the ServerWorkerThread loop made a Node citizen. */
async function loop(): Promise<void> {
  newSlice();
  for (;;) {
    let packet: CompletionPacket | null = null;
    try {
      // With the pipe full (more tasks in flight than threads) and no handler pending, try the
      // fast path first: this thread holds a running slot and a packet is queued — no lock, no
      // promise. Otherwise go straight to getAsync: its own fast path takes a queued packet, and
      // when it must wait it joins the waiter stack *before* this turn ends — before a pending
      // handler's continuation posts its result and the main thread posts the next task — so
      // the hottest thread is on top of the stack when that task comes (LIFO).
      if (pending === 0 && i32[A_INFLIGHT]! > i32[A_LIVE]!) packet = port.get(0);
      if (packet === null) packet = await idleWait();
    } catch (error) {
      return portFailed(error);
    }
    if (packet === null) {
      if (pending === 0 && retire()) return;
      continue;
    }
    if (sliceDue) {
      // The slice ended and the loop has not turned since: turn it now, while this thread holds
      // a packet — it is running, not waiting, so a task posted meanwhile rightly goes to
      // another thread. (Yielding with no packet in hand would leave the waiter stack without
      // this thread just when its last result brings the next task.)
      if (!turned) await new Promise<void>((resolve) => setImmediate(resolve));
      newSlice();
    }
    dispatch(packet);
    if (stopping) return maybeExit();
    if (--untilCheck === 0 && sliceOver()) {
      if (turned) newSlice();
      else sliceDue = true;
    }
  }
}

/** Nothing queued for this thread: wait, with the event loop running (see the rules above). */
function idleWait(): Promise<CompletionPacket | null> | CompletionPacket | null {
  if (pending > 0) return port.getAsync(idleTimeout, ASYNC);
  if (native) return loopHasWork() ? port.getAsync(idleTimeout, ASYNC) : port.get(idleTimeout);
  return port.getAsync(idleTimeout, i32[A_SPIN] !== 0 || i32[A_INFLIGHT]! > i32[A_LIVE]! ? SPIN_THEN_BLOCK : BLOCK);
}

/**
 * Anything on the event loop besides this runtime's own port and the slice's marker immediate:
 * a timer, an fs request, a socket, a stdout/stderr line not yet acknowledged (its port counts
 * as a resource until the main thread answers). ~2 µs a call: native backend only.
 */
function loopHasWork(): boolean {
  return process.getActiveResourcesInfo().length - (turned ? 0 : 1) > baselineResources;
}

/** Called every `checkEvery` packets: is the slice over? Also adapts `checkEvery`. */
function sliceOver(): boolean {
  const now = performance.now();
  if (now - lastCheck < SLICE_MS / 8) {
    if (checkEvery < MAX_CHECK_EVERY) checkEvery <<= 1;
  } else {
    checkEvery = checkEvery > 2 ? checkEvery >> 1 : 1;
  }
  untilCheck = checkEvery;
  lastCheck = now;
  return now >= sliceEnd;
}

function portFailed(error: unknown): void {
  if (error instanceof PortClosedError) process.exit(EXIT_PORT_CLOSED);
  throw error;
}

/** Idle for idleTimeout: leave if the pool has more than minThreads (the CAS keeps two idle threads from both leaving at the minimum). */
function retire(): boolean {
  for (;;) {
    const live = Atomics.load(i32, A_LIVE);
    if (live <= Atomics.load(i32, A_MIN)) return false;
    if (Atomics.compareExchange(i32, A_LIVE, live, live - 1) === live) {
      port.detach();
      process.exit(EXIT_RETIRED);
    }
  }
}

function maybeExit(): void {
  if (stopping && pending === 0) {
    port.detach();
    process.exit(EXIT_SENTINEL);
  }
}

function settled(): void {
  pending--;
  if (stopping) maybeExit();
}

function dispatch(packet: CompletionPacket): void {
  if (packet.bytesTransferred === K_TASK) return runTask(packet.overlapped);
  if (packet.bytesTransferred !== K_REQUEST) throw new RangeError(`unknown pool packet kind ${packet.bytesTransferred}`);
  if (packet.overlapped === SENTINEL) {
    stopping = true;
    Atomics.add(i32, A_SENTINELS, 1);
    return;
  }
  Atomics.add(i32, A_REQ_TAKEN, 1);
  runRequest(packet.completionKey);
}

// ──────────────────────────── requests ────────────────────────────

function runRequest(wParam: number): void {
  let result: unknown;
  try {
    result = handler(wParam, NO_SIGNAL);
  } catch (error) {
    return requestDone(wParam, error);
  }
  if (isThenable(result)) {
    pending++;
    result.then(
      () => {
        requestDone(wParam, undefined);
        settled();
      },
      (error: unknown) => {
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

// ───────────────────────────── tasks ─────────────────────────────

function runTask(slot: number): void {
  // A4: the index came out of shared memory; check it before it addresses anything.
  if (slot >>> 0 !== slot || slot >= views.slots) throw new RangeError(`task packet names slot ${slot} of ${views.slots}`);
  const w = slotWord(slotBytes, slot);
  i32[w + T_OWNER] = workerId;
  // A2: the main thread may be cancelling this very slot; one CAS decides.
  if (Atomics.compareExchange(i32, w + T_STATE, QUEUED, RUNNING) !== QUEUED) {
    if (Atomics.load(i32, w + T_STATE) === CANCELLED) return postResult(R_CANCELLED, slot);
    throw new RangeError(`task slot ${slot} is in state ${Atomics.load(i32, w + T_STATE)}, not queued`);
  }
  Atomics.add(i32, A_STARTED, 1);
  const flags = i32[w + T_FLAGS]!;
  if (i32[w + T_TAG] === TAG_FALLBACK) {
    // Large payload or transferList: ask the main thread for it (it knows no thread in advance).
    pending++;
    new Promise<{ task?: unknown; error?: unknown }>((resolve) => {
      fetches.set(slot, resolve);
      send({ type: 'fetch', slot });
    }).then((payload) => {
      if (payload.error !== undefined) finish(slot, w, flags, 0, recordToError(payload.error), true);
      else start(slot, w, flags, payload.task);
      settled();
    });
    return;
  }
  let task: unknown;
  try {
    task = views.decode(w);
  } catch (error) {
    return finish(slot, w, flags, 0, error, true);
  }
  start(slot, w, flags, task);
}

function start(slot: number, w: number, flags: number, task: unknown): void {
  let context: { signal: AbortSignal | undefined } = NO_SIGNAL;
  if ((flags & F_SIGNAL) !== 0) {
    const controller = new AbortController();
    controllers.set(slot, { controller, ticket: i32[w + T_TICKET]! });
    context = { signal: controller.signal };
  }
  const t0 = (flags & F_TIMED) !== 0 ? performance.now() : 0;
  let result: unknown;
  try {
    result = handler(task, context);
  } catch (error) {
    return finish(slot, w, flags, t0, error, true);
  }
  if (isThenable(result)) {
    pending++;
    result.then(
      (value) => {
        finish(slot, w, flags, t0, value, false);
        settled();
      },
      (error: unknown) => {
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
    const f = ((w << 2) >> 3);
    f64[f + T_START] = performance.timeOrigin + t0;
    f64[f + T_RUN] = performance.now() - t0;
  }
  if ((flags & F_SIGNAL) !== 0) {
    controllers.delete(slot);
  }
  let status: number;
  for (let attempt = 0; ; attempt++) {
    const out = isError ? errorToRecord(value) : value;
    try {
      if (views.encode(w, out) === TAG_FALLBACK) {
        data.resultChannel.postMessage({ slot, value: out });
        status = isError ? R_ERROR_MESSAGE : R_OK_MESSAGE;
      } else {
        status = isError ? R_ERROR : R_OK;
      }
      break;
    } catch (error) {
      if (attempt > 0) throw error;
      // The result cannot be cloned (a function, a class instance with private state…): the task fails with why.
      value = error;
      isError = true;
    }
  }
  Atomics.store(i32, w + T_STATE, DONE);
  postResult(status, slot);
}

function postResult(status: number, slot: number): void {
  // The result port holds one packet per slot, so it cannot be full; a closed one means destroy().
  try {
    results.post(status, workerId, slot);
  } catch (error) {
    return portFailed(error);
  }
  // The main thread spins on this word (not on the port's lock) when it expects a result soon.
  Atomics.add(i32, A_RESULTS, 1);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

load().then(
  (h) => {
    handler = h;
    send({ type: 'ready' });
    loop().catch((error: unknown) => {
      // A broken invariant (a packet naming a slot that does not exist…): die loudly, as an
      // uncaught error, so the pool reports it and replaces this thread.
      process.nextTick(() => {
        throw error;
      });
    });
  },
  (error: unknown) => {
    send({ type: 'load-error', error: errorToRecord(error) });
  },
);
