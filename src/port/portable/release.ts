/**
 * releaseThread(): giving back what a thread that has ended still holds —
 * its running slots, its places on the waiter stack, a packet handed to it
 * that it never read, and the ring claims it had not finished — and naming
 * the packet each of its records last took for good (lastTaken). What each
 * claim needs is in ./repair.ts; this file decides when it runs.
 *
 * Keeps:
 *  I8  only the dead thread's own slots and records are touched: a live
 *      thread's claim is only ever waited for.
 *  I9  the release needs the lock. It takes it when free, inherits it from
 *      the dead thread if the lock word names it, and otherwise waits only
 *      so long (the holder may be dead too, its death not reported yet): then
 *      it marks the dead thread's slots (W_DEAD) and records (R_DEAD), counts
 *      it in S_PENDING, and leaves it to whoever takes the lock next
 *      (finishPending, which every unlock runs while S_PENDING > 0).
 */
import type { CompletionPacket, ReleasedThread } from '../types.js';
import { requeueFront } from './front.js';
import {
  KIND_FREE,
  PORT_OPEN,
  R_DEAD,
  R_TID,
  S_ANON,
  S_CLOSED,
  S_LOCK,
  S_NEED_SCAN,
  S_PENDING,
  S_STUCK_LOCK,
  SLOT_CLOSED,
  SLOT_HANDED,
  W_DEAD,
  W_KIND,
  W_STATE,
  W_THREAD_ID,
} from './layout.js';
import { DEFERRED, INHERITED } from './lock.js';
import { closeLocked } from './close.js';
import { freeRecord, recordBase, recordsOf } from './records.js';
import { finishClaims, lastTaken, type Recovery, rebuildAfterDeath, scanRing } from './repair.js';
import type { PortState } from './state.js';
import { dispatch, freeSlot } from './waiters.js';

/** How long releaseThread() waits for a live thread that recorded the same claim as the dead one to move on (I8). */
const RELEASE_CLAIM_WAIT_MS = 50;
/**
 * How long a lock holder finishing deaths left to it (I9) waits for a
 * contested claim or an unrecorded thread's claim: not at all. What is still
 * contested stays pending, and is looked at again at the next unlock (a pass
 * over the slots and records, a few microseconds), so a death left pending
 * for long slows the port's slow paths a little, never a fast path.
 */
export const PENDING_WAIT_MS = 0;

/** The whole release of thread `deadThreadId` (checked by the caller). */
export function releaseThread(p: PortState, deadThreadId: number): ReleasedThread {
  const tag = deadThreadId + 1;
  if (p.claims === null) p.attachRecord();
  const how = p.lock.acquireForRelease(tag);
  if (how === DEFERRED) {
    return { running: 0, waiters: 0, requeued: 0, abandoned: [], lastTaken: markDead(p, tag), deferred: true };
  }
  const out: Recovery = { requeued: 0, abandoned: [] };
  const taken: CompletionPacket[] = [];
  let result: { running: number; waiters: number };
  try {
    if (how === INHERITED) rebuildAfterDeath(p);
    // Before its claims and slots are finished: what it had taken for good (I8).
    for (const base of recordsOf(p, tag)) {
      const packet = lastTaken(p, base, how === INHERITED);
      if (packet !== null) taken.push(packet);
    }
    result = releaseLocked(p, tag, out, RELEASE_CLAIM_WAIT_MS);
    finishPending(p, out, PENDING_WAIT_MS);
    // A thread killed inside close() left it half done (I7): finish it. On a
    // closed port, what is still queued (a dead closer's collection, packets
    // recovered since) goes to the caller.
    if (p.i32[S_CLOSED] !== PORT_OPEN) p.collectInto(out.abandoned, closeLocked(p));
    dispatch(p);
  } finally {
    p.leave();
  }
  if (how === INHERITED) {
    // The dead thread may have died between an unlock and its notify: wake
    // every lock sleeper and every slot that was handed a packet or closed.
    // Each wait re-checks its word, so a spare wake-up costs nothing.
    const i32 = p.i32;
    Atomics.notify(i32, S_LOCK);
    for (let slot = 0; slot < p.geo.maxThreads; slot++) {
      const state = Atomics.load(i32, p.slotWord(slot, W_STATE));
      if (state === SLOT_HANDED || state === SLOT_CLOSED) Atomics.notify(i32, p.slotWord(slot, W_STATE));
    }
  }
  return { running: result.running, waiters: result.waiters, requeued: out.requeued, abandoned: out.abandoned, lastTaken: taken, deferred: false };
}

/**
 * Without the lock: marks a dead thread's slots and records for the next lock holder (I9).
 * Returns what it had taken for good (I8), read before the marks: until a word is marked,
 * nobody but the dead thread wrote it. It did not hold the lock (another thread does).
 */
function markDead(p: PortState, tag: number): CompletionPacket[] {
  const i32 = p.i32;
  const taken: CompletionPacket[] = [];
  for (const base of recordsOf(p, tag)) {
    const packet = lastTaken(p, base, false);
    if (packet !== null) taken.push(packet);
  }
  let found = 0;
  for (let slot = 0; slot < p.geo.maxThreads; slot++) {
    if (i32[p.slotWord(slot, W_KIND)] !== KIND_FREE && i32[p.slotWord(slot, W_THREAD_ID)] === tag - 1) {
      Atomics.store(i32, p.slotWord(slot, W_DEAD), 1);
      found++;
    }
  }
  for (const base of recordsOf(p, tag)) {
    Atomics.store(i32, base + R_DEAD, 1);
    found++;
  }
  if (found === 0 && Atomics.load(i32, S_ANON) > 0) Atomics.store(i32, S_NEED_SCAN, 1);
  Atomics.add(i32, S_PENDING, 1);
  return taken;
}

/**
 * Lock held. Releases one dead thread: first its claims (I8: its records;
 * they may name a waiter it was handing a packet to, whose state decides),
 * then its slots. A record whose claim stays ambiguous after `waitMs` is
 * left marked dead for a later holder (I9).
 */
function releaseLocked(p: PortState, tag: number, out: Recovery, waitMs: number): { running: number; waiters: number } {
  const i32 = p.i32;
  const records = recordsOf(p, tag);
  for (const base of records) Atomics.store(i32, base + R_DEAD, 1);
  for (const base of records) {
    if (finishClaims(p, base, out, waitMs)) freeRecord(p, base);
    else Atomics.add(i32, S_PENDING, 1);
  }
  // An unrecorded thread's claims are in no record: a scan finds them.
  if (records.length === 0 && Atomics.load(i32, S_ANON) > 0) scanRing(p, out, waitMs);
  const counts = { running: 0, waiters: 0 };
  for (let slot = 0; slot < p.geo.maxThreads; slot++) {
    if (i32[p.slotWord(slot, W_KIND)] !== KIND_FREE && i32[p.slotWord(slot, W_THREAD_ID)] === tag - 1) {
      freeSlot(p, slot, out, counts);
    }
  }
  return counts;
}

/**
 * Lock held. Finishes the deaths left for a later holder (I9): each thread
 * whose slots or records are marked dead, and an unrecorded thread's ring
 * scan. What stays ambiguous stays pending. Recovered packets go to FRONT,
 * or to `out.abandoned` once the port is closed (to FRONT if there is no
 * caller to give them to: the next close() returns them).
 */
export function finishPending(p: PortState, out: { requeued: number; abandoned: CompletionPacket[] | null }, waitMs: number): void {
  const i32 = p.i32;
  if (Atomics.load(i32, S_PENDING) === 0) return;
  Atomics.store(i32, S_PENDING, 0);
  Atomics.store(i32, S_STUCK_LOCK, 0);
  const tags = new Set<number>();
  for (let slot = 0; slot < p.geo.maxThreads; slot++) {
    if (i32[p.slotWord(slot, W_KIND)] !== KIND_FREE && Atomics.load(i32, p.slotWord(slot, W_DEAD)) !== 0) {
      tags.add(i32[p.slotWord(slot, W_THREAD_ID)]! + 1);
    }
  }
  for (let r = 0; r < p.geo.records; r++) {
    const base = recordBase(p, r);
    if (Atomics.load(i32, base + R_TID) !== 0 && Atomics.load(i32, base + R_DEAD) !== 0) tags.add(i32[base + R_TID]!);
  }
  const recovery: Recovery = { requeued: 0, abandoned: out.abandoned ?? [] };
  for (const tag of tags) releaseLocked(p, tag, recovery, waitMs);
  if (Atomics.load(i32, S_NEED_SCAN) !== 0) {
    Atomics.store(i32, S_NEED_SCAN, 0);
    scanRing(p, recovery, waitMs);
  }
  // Closed and no caller to hand them to: keep them in FRONT for the next close().
  if (out.abandoned === null) for (const pk of recovery.abandoned) requeueFront(p, pk.bytesTransferred, pk.completionKey, pk.overlapped);
  out.requeued += recovery.requeued;
}
