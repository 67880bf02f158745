/**
 * How many tasks one pool thread holds while their async handlers await (the scheduling rule of
 * docs/pool.md, "Async handlers"). A thread with handlers pending takes another packet only
 *
 *  - behind the idle threads: it waits with getAsync's `behind` ranked by how many it holds, so
 *    the port hands a packet to an idle thread first, then to the least loaded (port semantics);
 *  - below its fair share of the pool's work in flight, ⌈in flight / live threads⌉ + 1 (in
 *    flight: run() tasks in slots, A_INFLIGHT, and queueRequest packets posted and not yet
 *    handled). The port cannot see that a thread it hands a packet to is busy running an earlier
 *    task's continuation on its event loop, or that another thread is about to wake: without
 *    the share, the thread that comes back first takes a whole burst, and every continuation of
 *    it then runs on that one event loop while the other threads idle;
 *  - below `concurrentTasksPerThread`, the user's bound.
 *
 * At a bound it takes nothing (its running slot given back, as a blocking section) until one of
 * its handlers settles — or, at the fair share, until SHARE_RECHECK_MS have passed: the share
 * grows as tasks are posted, and a thread must see that even when none of its handlers settles
 * (handlers that await sub-tasks of their own). Liveness: every task a thread holds is in flight,
 * so the threads' shares add up to more than the tasks in flight, and a queued packet always has
 * a thread below its share within SHARE_RECHECK_MS. At `concurrentTasksPerThread` that is no
 * longer so: handlers on every thread at that bound awaiting sub-tasks wait forever.
 */
import type { GetAsyncOptions } from '../../port/index.js';
import { A_INFLIGHT, A_LIVE, A_REQ_POSTED, A_REQUESTS } from '../layout.js';
import { maybeLeave } from './leave.js';
import { data, i32, port, state } from './thread.js';

/** How often a thread at its fair share looks again at the work in flight (ms). */
const SHARE_RECHECK_MS = 1;

/** getAsync options of a thread with `n` handlers pending: on the event loop at once (no spin, no block), ranked n. */
const BEHIND: GetAsyncOptions[] = [];
export function behind(n: number): GetAsyncOptions {
  return (BEHIND[n] ??= Object.freeze({ spinCount: 0, syncMs: 0, behind: n }));
}

/** 0: below both bounds; AT_CAP: at concurrentTasksPerThread; AT_SHARE: at the fair share. */
const BELOW = 0;
const AT_CAP = 1;
const AT_SHARE = 2;

/** Where this thread, with handlers pending, stands against its bounds. */
function bound(): number {
  const pending = state.pending;
  if (pending >= data.concurrentTasksPerThread) return AT_CAP;
  const live = Atomics.load(i32, A_LIVE);
  // Requests posted and not yet handled (completed or failed); may read one low for an instant.
  const requests = Math.max(0, (Atomics.load(i32, A_REQ_POSTED) - Atomics.load(i32, A_REQUESTS)) | 0);
  const inFlight = Atomics.load(i32, A_INFLIGHT) + requests;
  return live > 1 && pending > Math.ceil(inFlight / live) ? AT_SHARE : BELOW;
}

/** Resolves the wait of a thread at a bound. */
let room: (() => void) | undefined;

/**
 * A thread with handlers pending: null if it may take another packet, else a promise that
 * resolves when it should look again (a handler settled; at the fair share, or the time passed).
 */
export function holding(): Promise<void> | null {
  const at = bound();
  if (at === BELOW) return null;
  return new Promise<void>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    room = () => {
      room = undefined;
      if (timer !== undefined) clearTimeout(timer);
      resolve();
    };
    // At the cap only a settling handler makes room; at the share, so does more work posted.
    if (at === AT_SHARE) timer = setTimeout(room, SHARE_RECHECK_MS);
  });
}

/**
 * A pending handler is settling (dispatch.ts), before its result goes out: a thread waiting in
 * the port ranked by what it holds moves up to what it will hold. The caller's next task follows
 * that result, and must find this thread where its load now says — on top, for a handler that
 * settled at once (LIFO keeps one-at-a-time work on the hot thread), not behind the idle ones.
 */
export function settling(): void {
  if (!state.waitingOnLoop) return;
  try {
    port.rerank(state.pending - 1);
  } catch {
    // A closed or failed port: the result must still go out; the loop's wait reports the failure.
  }
}

/** A pending handler settled (dispatch.ts): a thread at a bound looks again; a stopping one may leave. */
export function handlerSettled(): void {
  room?.();
  maybeLeave();
}
