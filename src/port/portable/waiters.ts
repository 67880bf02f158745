/**
 * The waiter stack and the slots: who waits, who runs, and the hand-over of
 * a packet from the lock holder to a waiter. Lock held for every call here.
 *
 * Keeps:
 *  I2  dispatch() is the one place a queued packet meets a waiter: every
 *      lock holder that pushes a waiter or lowers S_RUNNING calls it, so no
 *      packet stays queued beside an idle waiter that may run.
 *  I3  a slot is pushed on the stack as it becomes WAITING/SLEEPING, and
 *      leaves it as it becomes HANDED, CLOSED or IDLE; the release order is
 *      by rank, then LIFO: pushWaiter inserts a waiter above every waiter of
 *      a rank ≥ its own (W_BEHIND, written before its W_STATE), so the top —
 *      what popWaiter takes — is the newest waiter of the smallest rank.
 *  I4  handTo() writes the mailbox, then marks the slot HANDED, then counts
 *      its owner as running: a woken waiter has its packet and its running
 *      slot, and never touches the lock to take them.
 *  I5  S_RUNNING and the owner's W_RUNNING change together.
 *  I8  (the hand-over) a packet is taken off FRONT or the RING only once its
 *      waiter is HANDED, with the waiter named in the record meanwhile.
 */
import { threadId } from 'node:worker_threads';
import { frontCount, readFront, removeFrontHead } from './front.js';
import {
  KIND_EXTRA,
  KIND_FREE,
  KIND_THREAD,
  R_FRONT,
  R_TARGET,
  S_FRONT_HEAD,
  S_RUNNING,
  S_THREADS,
  S_WAITING,
  SLOT_HANDED,
  SLOT_IDLE,
  SLOT_SLEEPING,
  SLOT_WAITING,
  SLOT_WORDS,
  STACK_BASE,
  W_BEHIND,
  W_DEAD,
  W_KIND,
  W_MAILBOX,
  W_OWNER,
  W_RUNNING,
  W_STATE,
  W_THREAD_ID,
} from './layout.js';
import { type Recovery, recover } from './repair.js';
import type { PortState } from './state.js';

/** Finds a FREE slot and claims it; throws if the table is full. W_KIND last: a holder that dies half way leaves it FREE. */
export function allocSlot(p: PortState, kind: number, owner: number): number {
  const i32 = p.i32;
  for (let slot = 0; slot < p.geo.maxThreads; slot++) {
    const k = p.slotWord(slot, W_KIND);
    if (i32[k] === KIND_FREE) {
      i32[p.slotWord(slot, W_THREAD_ID)] = threadId;
      i32[p.slotWord(slot, W_OWNER)] = owner < 0 ? slot : owner;
      i32[p.slotWord(slot, W_RUNNING)] = 0;
      i32[p.slotWord(slot, W_DEAD)] = 0;
      i32[p.slotWord(slot, W_BEHIND)] = 0;
      Atomics.store(i32, p.slotWord(slot, W_STATE), SLOT_IDLE);
      i32[k] = kind;
      return slot;
    }
  }
  throw new RangeError(
    `the completion port has no free thread slot: ${p.geo.maxThreads} threads or concurrent getAsync calls ` +
      'are attached (raise options.maxThreads, or call releaseThread()/detach() for threads that ended)',
  );
}

/**
 * Pushes one of this instance's idle slots on the waiter stack, in `state` (WAITING or SLEEPING),
 * with `rank` (0: an ordinary waiter, on top; n > 0: below every waiter of a smaller rank — the
 * getAsync `behind` option). The stack's ranks never grow from bottom to top (I3), so an ordinary
 * push is the same one store as ever, and a ranked one first looks down past the lighter waiters.
 */
export function pushWaiter(p: PortState, state: number, rank: number): number {
  let w = p.idle.pop();
  if (w === undefined) w = allocSlot(p, KIND_EXTRA, p.slot);
  insertWaiter(p, w, state, rank);
  return w;
}

/** Puts slot w on the stack as the newest waiter of `rank`, in `state` (I3). */
function insertWaiter(p: PortState, w: number, state: number, rank: number): void {
  const i32 = p.i32;
  const waiting = p.checkIndex('S_WAITING', i32[S_WAITING]!, p.geo.maxThreads);
  let at = waiting;
  if (rank > 0) while (at > 0 && rankOf(p, i32[STACK_BASE + at - 1]!) < rank) at--;
  // The rank before the state: whoever sees the slot waiting (a repair after a death, I3) sees its rank.
  i32[p.slotWord(w, W_BEHIND)] = rank;
  Atomics.store(i32, p.slotWord(w, W_STATE), state);
  // Shifted from the top down: a holder that dies half way leaves every waiter below `waiting`
  // at least once, or (the one moved up first) beyond it, which the repair finds missing and
  // puts back by its rank (rebuildAfterDeath).
  for (let i = waiting; i > at; i--) i32[STACK_BASE + i] = i32[STACK_BASE + i - 1]!;
  i32[STACK_BASE + at] = w;
  // A seq-cst store: a poster that publishes after it sees the waiter (I2).
  Atomics.store(i32, S_WAITING, waiting + 1);
}

/**
 * Waiter w (on the stack, WAITING or SLEEPING) now waits with `rank`: taken off and put back as
 * the newest waiter of that rank. Between the two, S_WAITING is one low and w is off the stack
 * while its state says it waits: a holder that dies there leaves it for the repair to put back
 * (rebuildAfterDeath); a poster that saw the low count and queued its packet is served by the
 * caller's dispatch (I2).
 */
export function rerankWaiter(p: PortState, w: number, rank: number): void {
  if (p.i32[p.slotWord(w, W_BEHIND)] === rank) return;
  const state = Atomics.load(p.i32, p.slotWord(w, W_STATE));
  removeWaiter(p, w);
  insertWaiter(p, w, state, rank);
}

/** The rank a stack entry waits with (W_BEHIND); the entry is bounds-checked. */
function rankOf(p: PortState, entry: number): number {
  return p.i32[p.slotWord(p.checkIndex('waiter stack entry', entry, p.geo.maxThreads), W_BEHIND)]!;
}

/**
 * Would a waiter of `rank` be released before every waiter on the stack now? True when none waits
 * or the top (the lightest, I3) is not lighter: the call that comes back to get with packets
 * queued takes one at once, as the newest waiter of its rank would be handed it.
 */
export function firstInLine(p: PortState, rank: number): boolean {
  const waiting = p.i32[S_WAITING]!;
  return rank === 0 || waiting === 0 || rankOf(p, p.i32[STACK_BASE + waiting - 1]!) >= rank;
}

/** S_WAITING > 0. Pops the top: the newest waiter of the smallest rank (I3). */
function popWaiter(p: PortState): number {
  const i32 = p.i32;
  const top = p.checkIndex('S_WAITING', i32[S_WAITING]! - 1, p.geo.maxThreads);
  Atomics.store(i32, S_WAITING, top);
  return p.checkIndex('waiter stack entry', i32[STACK_BASE + top]!, p.geo.maxThreads);
}

/** Takes slot w off the waiter stack wherever it is (a timed-out waiter need not be on top). */
export function removeWaiter(p: PortState, w: number): void {
  const i32 = p.i32;
  const waiting = p.checkIndex('S_WAITING', i32[S_WAITING]!, p.geo.maxThreads + 1);
  let i = waiting - 1;
  while (i >= 0 && i32[STACK_BASE + i] !== w) i--;
  if (i < 0) p.corrupt(`waiter slot ${w} is not on the waiter stack`);
  for (; i < waiting - 1; i++) i32[STACK_BASE + i] = i32[STACK_BASE + i + 1]!;
  Atomics.store(i32, S_WAITING, waiting - 1);
}

/**
 * Writes the packet into the slot's mailbox, counts its owner as running
 * (I4), and marks it HANDED. Returns the state it had, so the caller
 * notifies only a sleeper.
 */
function handTo(p: PortState, slot: number, bytesTransferred: number, completionKey: number, overlapped: number): number {
  const i32 = p.i32;
  const base = p.geo.slotBase + slot * SLOT_WORDS;
  const m = (base + W_MAILBOX) >> 1;
  p.f64[m] = bytesTransferred;
  p.f64[m + 1] = completionKey;
  p.f64[m + 2] = overlapped;
  const owner = p.checkIndex('slot owner', i32[base + W_OWNER]!, p.geo.maxThreads);
  const ownerRunning = p.slotWord(owner, W_RUNNING);
  // HANDED before the count: a holder that dies in between leaves a thread
  // counted one short (it gives back nothing it does not hold), never a
  // waiter counted as running that is never woken.
  const was = Atomics.exchange(i32, base + W_STATE, SLOT_HANDED);
  i32[ownerRunning] = i32[ownerRunning]! + 1;
  Atomics.add(i32, S_RUNNING, 1);
  return was;
}

/**
 * Restores I2: releases waiters (newest first) while packets are queued and
 * the cap allows; sleepers go to `wake`, notified on unlock. A packet is
 * taken off FRONT or the RING only once its waiter is HANDED, with the
 * waiter named in the record meanwhile (I8): a holder that dies half way
 * leaves the packet either queued or handed, never both or neither.
 */
export function dispatch(p: PortState): void {
  const i32 = p.i32;
  const claims = p.claims!;
  const recorded = p.record >= 0;
  while (i32[S_WAITING]! > 0 && i32[S_RUNNING]! < p.concurrency) {
    let fromFront = false;
    if (frontCount(p) > 0) {
      const head = i32[S_FRONT_HEAD]!;
      readFront(p, head, p.scratch, 0);
      fromFront = true;
      // Unrecorded, a death between here and the hand-over loses the packet rather than delivering it twice.
      if (recorded) claims[R_FRONT] = head + 1;
      else removeFrontHead(p);
    } else if (!p.dequeueLocked(0, recorded)) {
      return;
    }
    const slot = popWaiter(p);
    claims[R_TARGET] = slot + 1;
    const scratch = p.scratch;
    if (handTo(p, slot, scratch[0]!, scratch[1]!, scratch[2]!) === SLOT_SLEEPING) p.wake.push(slot);
    if (recorded) {
      if (fromFront) {
        removeFrontHead(p);
        claims[R_FRONT] = 0;
      } else {
        p.ring.freeHeld();
      }
    }
    claims[R_TARGET] = 0;
  }
}

/** Frees one slot: off the stack if waiting, its handed packet recovered, its running slots given back (I3, I5). */
export function freeSlot(p: PortState, slot: number, out: Recovery, counts: { running: number; waiters: number }): void {
  const i32 = p.i32;
  const kindWord = p.slotWord(slot, W_KIND);
  const stateWord = p.slotWord(slot, W_STATE);
  const state = Atomics.load(i32, stateWord);
  if (state === SLOT_WAITING || state === SLOT_SLEEPING) {
    removeWaiter(p, slot);
    counts.waiters++;
  } else if (state === SLOT_HANDED) {
    // Handed but never read: put it back in front, where it came from.
    const m = (p.geo.slotBase + slot * SLOT_WORDS + W_MAILBOX) >> 1;
    recover(p, out, p.f64[m]!, p.f64[m + 1]!, p.f64[m + 2]!);
  }
  if (i32[kindWord] === KIND_THREAD) {
    const held = i32[p.slotWord(slot, W_RUNNING)]!;
    Atomics.sub(i32, S_RUNNING, held);
    counts.running += held;
    i32[S_THREADS] = i32[S_THREADS]! - 1;
  }
  Atomics.store(i32, stateWord, SLOT_IDLE);
  i32[p.slotWord(slot, W_RUNNING)] = 0;
  i32[p.slotWord(slot, W_DEAD)] = 0;
  i32[p.slotWord(slot, W_BEHIND)] = 0;
  i32[kindWord] = KIND_FREE;
}
