/**
 * The pool thread's loop: the ServerWorkerThread loop of the original
 * articles (docs/background.md) on a completion port,
 *
 *   for (;;) {
 *     GetQueuedCompletionStatus(port, &bytes, &key, &overlapped, INFINITE);
 *     if (overlapped == -1) break;           // Close(): one sentinel per thread
 *     handler(key);                          // QueueRequest(wParam)
 *   }
 *
 * made a good Node citizen: the thread's event loop runs while it waits and,
 * on a stated bound, while it works (the event-loop rule below).
 *
 * Waiting uses getAsync, which gives the thread's running slot back, so a
 * thread whose handlers await counts as blocked for the concurrency cap (the
 * IOCP rule) and takes more packets meanwhile — its own fan-out sub-tasks
 * included, which is why fan-out cannot deadlock below the cap (below).
 * A thread whose handlers are pending waits behind the idle ones and holds
 * no more than its share of the work: the scheduling rule, ./share.ts.
 */
import { getHeapStatistics } from 'node:v8';
import type { CompletionPacket, GetAsyncOptions } from '../../port/index.js';
import { A_INFLIGHT, A_LIVE, A_MIN, A_SPIN } from '../layout.js';
import { EXIT_RECYCLED, EXIT_RETIRED } from '../protocol.js';
import { dispatch, hold } from './dispatch.js';
import { behind, holding } from './share.js';
import { leave, maybeLeave, portFailed } from './leave.js';
import { data, heap, i32, port, state } from './thread.js';

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
// (see pool/main/spin-policy.ts); with the pipe full (A_INFLIGHT > threads) a spinning waiter spares the main
// thread an Atomics.notify per post, so threads spin. After the spin a thread that has just gone
// idle blocks in Atomics.wait for up to BLOCK_MS — a wake-up from Atomics.wait costs less than
// one through Atomics.waitAsync and the event loop, and one-at-a-time tasks usually come back
// within it — and only then parks the wait on the event loop (same place in the LIFO order).
// That stall is the price of the cheap wake-up: a timer that falls due in it fires ≤ BLOCK_MS late.
// While a handler is pending, no spin and no block: its continuation needs the event loop now.
/** Longest a newly idle thread blocks before it waits on its event loop (ms). */
const BLOCK_MS = 1;
const BLOCK = Object.freeze({ spinCount: 0, syncMs: BLOCK_MS });
/**
 * The native backend runs every getAsync on a libuv thread-pool thread, which the whole process
 * shares with fs, dns and zlib (4 by default): its threads wait in a blocking get() whenever
 * their event loop has nothing to do, and with getAsync only while it has (see loopHasWork).
 */
let native = false;
/** Event-loop resources alive before the user's module loaded: this runtime's own port. */
let baselineResources = 0;
let spinThenBlock: GetAsyncOptions = BLOCK;
let idleTimeout = Infinity;
/**
 * On the native backend an idle thread with nothing on its loop blocks in get(): at most this long
 * at a time (ms), then its loop turns once, so a message (recycle, broadcast) reaches it.
 */
const NATIVE_POLL_MS = 1000;

/** Before the user's module loads (after one turn, when start-up requests have ended): see loopHasWork. */
export async function prepareLoop(): Promise<void> {
  native = data.taskPort.backend === 'native';
  idleTimeout = data.idleTimeout;
  spinThenBlock = Object.freeze({ spinCount: data.spinCount, syncMs: BLOCK_MS });
  await new Promise<void>((resolve) => setImmediate(resolve));
  baselineResources = process.getActiveResourcesInfo().length;
}

/** The pool thread's loop: take a packet, run it; the ServerWorkerThread loop made a Node citizen. */
export async function loop(): Promise<void> {
  newSlice();
  for (;;) {
    if (state.stopping) {
      maybeLeave();
      return;
    }
    let packet: CompletionPacket | null = null;
    const waitStart = native ? performance.now() : 0;
    try {
      // With the pipe full (more tasks in flight than threads) and no handler pending, try the
      // fast path first: this thread holds a running slot and a packet is queued — no lock, no
      // promise. Otherwise go straight to getAsync: its own fast path takes a queued packet, and
      // when it must wait it joins the waiter stack *before* this turn ends — before a pending
      // handler's continuation posts its result and the main thread posts the next task — so
      // the hottest thread is on top of the stack when that task comes (LIFO).
      if (state.pending === 0) {
        if (i32[A_INFLIGHT]! > i32[A_LIVE]!) packet = port.get(0);
      } else {
        // Holding as much as it may (./share.ts): no packet until it looks again. Its running
        // slot goes back meanwhile (a blocking section: a queued packet goes to another thread),
        // and the next wait gives back the one blocking() took again.
        const room = holding();
        if (room !== null) {
          await port.blocking(() => room);
          continue;
        }
      }
      if (packet === null) {
        state.waitingOnLoop = true;
        try {
          packet = await idleWait();
        } finally {
          state.waitingOnLoop = false;
        }
      }
    } catch (error) {
      return portFailed(error);
    }
    if (packet === null) {
      if (native && performance.now() - waitStart < idleTimeout) {
        // A bounded native wait ended: turn the loop once (messages), then wait again.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      if (state.pending === 0) retire();
      continue;
    }
    if (sliceDue) {
      // The slice ended and the loop has not turned since: turn it now, while this thread holds
      // a packet — it is running, not waiting, so a task posted meanwhile rightly goes to
      // another thread. (Yielding with no packet in hand would leave the waiter stack without
      // this thread just when its last result brings the next task.) A task packet is named in
      // its slot first (hold), so that a death in that turn hands it on; a request or a sentinel
      // has no slot to name it in, so it runs first and the loop turns after it.
      if (!turned) {
        if (hold(packet)) {
          await new Promise<void>((resolve) => setImmediate(resolve));
        } else {
          dispatch(packet);
          packet = null;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
      newSlice();
    }
    if (packet !== null) dispatch(packet);
    if (state.taken >= data.maxTasksPerThread) recycle();
    if (state.stopping) return maybeLeave();
    if (--untilCheck === 0 && sliceOver()) {
      // Catch up with the shared heap now and then (one load when nothing changed): drop retired
      // segments. (An idle thread does it when the main thread says it retired some.)
      heap?.sync();
      if (data.maxHeapUsedBeforeRecycle !== Infinity && getHeapStatistics().used_heap_size > data.maxHeapUsedBeforeRecycle) recycle();
      if (turned) newSlice();
      else sliceDue = true;
    }
  }
}

/**
 * While a handler is pending, an idle wait lasts at least this long (ms): a 0 ms wait (idleTimeout
 * 0) settles without the event loop turning, so the loop would spin and the handler's timers never
 * fire. A thread whose last handler settled during such a wait retires at most this much late.
 */
const PENDING_WAIT_MS = 50;

/** Nothing queued for this thread: wait, with the event loop running (see the rules above). */
function idleWait(): Promise<CompletionPacket | null> | CompletionPacket | null {
  if (state.pending > 0) return port.getAsync(Math.max(idleTimeout, PENDING_WAIT_MS), behind(state.pending));
  if (native) return loopHasWork() ? port.getAsync(idleTimeout, behind(0)) : port.get(Math.min(idleTimeout, NATIVE_POLL_MS));
  return port.getAsync(idleTimeout, i32[A_SPIN] !== 0 || i32[A_INFLIGHT]! > i32[A_LIVE]! ? spinThenBlock : BLOCK);
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

/** Idle for idleTimeout: leave if the pool has more than minThreads (the CAS keeps two idle threads from both leaving at the minimum). */
function retire(): void {
  for (;;) {
    const live = Atomics.load(i32, A_LIVE);
    if (live <= Atomics.load(i32, A_MIN)) return;
    if (Atomics.compareExchange(i32, A_LIVE, live, live - 1) === live) {
      leave(EXIT_RETIRED);
      return;
    }
  }
}

/**
 * Leave to be replaced (maxTasksPerThread, maxHeapUsedBeforeRecycle, recycle()): take no more
 * packets, finish what is pending, leave. A wait on the event loop is ended by detach(), which
 * settles it (ERR_PORT_DETACHED) without taking a packet.
 */
export function recycle(): void {
  if (state.stopping) return;
  state.stopping = true;
  state.exitCode = EXIT_RECYCLED;
  if (state.waitingOnLoop) port.detach();
}
