/**
 * detach(): an instance gives back what it holds on the port — its THREAD
 * slot, its getAsync slots and its claims record — so that a thread that is
 * done with a port leaves nothing for releaseThread() to repair, and may
 * attach again on its next call.
 *
 * Under the lock: each getAsync of this instance still pending is settled
 * first (rejected with ERR_PORT_DETACHED if it was still on the waiter
 * stack, resolved with its packet if one was already handed to it, rejected
 * with PortClosedError if the close woke it), its slot made IDLE; then the
 * slots this instance owns are freed (their running counts given back, I4),
 * its record freed (I8), and dispatch() hands any queued packet to the
 * waiters that remain, since running just fell. After unlock, the settled
 * waits are woken on their own wait words; the instance forgets its slots.
 */
import { PortClosedError } from '../errors.js';
import { KIND_FREE, SLOT_HANDED, SLOT_IDLE, SLOT_SLEEPING, SLOT_WAITING, SLOT_WORDS, W_KIND, W_MAILBOX, W_OWNER, W_STATE } from './layout.js';
import { packetAt } from './packet.js';
import { freeRecord } from './records.js';
import type { PortState } from './state.js';
import { dispatch, freeSlot, removeWaiter } from './waiters.js';

export function detach(s: PortState): void {
  if (s.slot < 0 && s.claims === null) return;
  const mine = s.slot;
  const i32 = s.i32;
  const settled: number[] = [];
  s.enter();
  try {
    for (const [w, wait] of s.asyncPending) {
      const word = s.slotWord(w, W_STATE);
      const state = Atomics.load(i32, word);
      if (state === SLOT_WAITING || state === SLOT_SLEEPING) {
        removeWaiter(s, w);
        wait.error = Object.assign(new Error('detach() was called while this getAsync() was pending'), { code: 'ERR_PORT_DETACHED' });
      } else if (state === SLOT_HANDED) {
        wait.packet = packetAt(s.f64, (s.geo.slotBase + w * SLOT_WORDS + W_MAILBOX) >> 1);
      } else {
        wait.error = new PortClosedError();
      }
      wait.done = true;
      Atomics.store(i32, word, SLOT_IDLE);
      settled.push(w);
    }
    if (mine >= 0) {
      for (let slot = 0; slot < s.geo.maxThreads; slot++) {
        if (i32[s.slotWord(slot, W_KIND)] !== KIND_FREE && i32[s.slotWord(slot, W_OWNER)] === mine) {
          freeSlot(s, slot, { requeued: 0, abandoned: [] }, { running: 0, waiters: 0 });
        }
      }
    }
    if (s.record >= 0) freeRecord(s, s.record);
    dispatch(s);
  } finally {
    s.leave();
  }
  // Wake this instance's own waitAsync calls: each sees it was settled.
  for (const w of settled) Atomics.notify(i32, s.slotWord(w, W_STATE));
  s.forget();
}
