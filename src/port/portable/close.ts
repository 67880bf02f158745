/**
 * close(): CloseHandle on the portable port. Wakes every waiter with
 * PortClosedError, makes every later get/post throw, and returns the packets
 * still queued — never dropped silently.
 *
 * Keeps I7: CLOSED_BIT goes into S_ENQ, then S_DEQ, under the lock; from
 * then on no position is claimed. The close collects FRONT and every ring
 * position in [S_DEQ, S_ENQ) into scratch without changing them, and
 * commits (FRONT, S_DEQ, S_CLOSED = PORT_CLOSED) only at the end, so a close
 * cut short by its thread's death (S_CLOSED = PORT_CLOSING) is simply run
 * again, from the start: by releaseThread() of that thread, or by the next
 * close(). A position claimed before the close and not yet published is
 * waited for if its poster lives (I8), at most CLOSE_WAIT_MS in all, then
 * made VOID: that post() throws PortClosedError.
 */
import type { CompletionPacket } from '../types.js';
import { frontCount, frontIndex, readFront } from './front.js';
import {
  C_PAYLOAD,
  CLAIM,
  CLOSED_BIT,
  PACKET_F64,
  PORT_CLOSED,
  PORT_CLOSING,
  PORT_OPEN,
  POS_MASK,
  R_POST,
  S_ANON,
  S_CLOSED,
  S_DEQ,
  S_ENQ,
  S_FRONT_HEAD,
  S_FRONT_TAIL,
  S_VOID,
  S_WAITING,
  SLOT_CLOSED,
  SLOT_SLEEPING,
  STACK_BASE,
  VOID_BIT,
  W_STATE,
} from './layout.js';
import { owners } from './records.js';
import { pause } from './repair.js';
import type { PortState } from './state.js';

/** Iterations close() spins on a claimed, unpublished position before it checks who claimed it. */
const PUBLISH_SPIN = 1000;
/** How long close() waits, in all, for live posters to publish positions claimed before the close (I7). */
const CLOSE_WAIT_MS = 200;

/** The whole close: idempotent (a second call returns [], or packets recovered since from dead threads). */
export function close(p: PortState): CompletionPacket[] {
  p.enter();
  let count: number;
  try {
    count = closeLocked(p);
  } finally {
    p.leave();
  }
  // A closer that died between its unlock and its notify left CLOSED waiters asleep: wake every one.
  for (let slot = 0; slot < p.geo.maxThreads; slot++) {
    if (Atomics.load(p.i32, p.slotWord(slot, W_STATE)) === SLOT_CLOSED) Atomics.notify(p.i32, p.slotWord(slot, W_STATE));
  }
  const packets: CompletionPacket[] = [];
  p.collectInto(packets, count);
  return packets;
}

/**
 * Lock held. The whole close (I7), safe to run again from the start if a
 * closer died in it: close the position words, close the waiters, collect
 * FRONT and the RING positions [S_DEQ, S_ENQ) into scratch without
 * changing them, then commit. Returns the number of packets in scratch.
 */
export function closeLocked(p: PortState): number {
  const i32 = p.i32;
  const state = i32[S_CLOSED]!;
  if (state !== PORT_OPEN && state !== PORT_CLOSING && state !== PORT_CLOSED) return p.corrupt(`S_CLOSED = ${state}`);
  if (state === PORT_OPEN) Atomics.store(i32, S_CLOSED, PORT_CLOSING);
  // I7: posters first, then takers; from here on no position is claimed.
  Atomics.or(i32, S_ENQ, CLOSED_BIT);
  const start = Atomics.or(i32, S_DEQ, CLOSED_BIT) & POS_MASK;
  const end = Atomics.load(i32, S_ENQ) & POS_MASK;
  const waiting = p.checkIndex('S_WAITING', i32[S_WAITING]!, p.geo.maxThreads + 1);
  for (let i = 0; i < waiting; i++) {
    const slot = p.checkIndex('waiter stack entry', i32[STACK_BASE + i]!, p.geo.maxThreads);
    if (Atomics.exchange(i32, p.slotWord(slot, W_STATE), SLOT_CLOSED) === SLOT_SLEEPING) p.wake.push(slot);
  }
  Atomics.store(i32, S_WAITING, 0);
  const front = frontCount(p);
  const inRing = (end - start) & POS_MASK;
  if (inRing > p.geo.capacity) return p.corrupt(`${inRing} ring positions queued at close`);
  p.ensureScratch(front + inRing);
  const scratch = p.scratch;
  const f64 = p.f64;
  let s = 0;
  for (let k = 0; k < front; k++, s += PACKET_F64) readFront(p, frontIndex(p, k), scratch, s);
  const waitUntil = { at: 0 };
  for (let pos = start; pos !== end; pos = (pos + 1) & POS_MASK) {
    const cell = p.ring.cellOf(pos);
    const published = (pos + 1) & POS_MASK;
    let seq = Atomics.load(i32, cell);
    if (seq === pos) seq = awaitPublish(p, pos, cell, waitUntil);
    if (seq === (published | VOID_BIT)) continue;
    if (seq !== published) return p.corrupt(`ring cell of position ${pos} has sequence ${seq} at close`);
    const f = (cell + C_PAYLOAD) >> 1;
    scratch[s] = f64[f]!;
    scratch[s + 1] = f64[f + 1]!;
    scratch[s + 2] = f64[f + 2]!;
    s += PACKET_F64;
  }
  // Commit: everything collected is now the caller's.
  Atomics.store(i32, S_FRONT_HEAD, i32[S_FRONT_TAIL]!);
  Atomics.store(i32, S_VOID, 0);
  Atomics.store(i32, S_DEQ, end | CLOSED_BIT);
  Atomics.store(i32, S_CLOSED, PORT_CLOSED);
  return s / PACKET_F64;
}

/**
 * Lock held, port closing. Position pos was claimed before the close and is
 * not published yet. Its poster is recorded (I8): a dead one never
 * publishes, so its position becomes VOID now; a live one publishes within
 * nanoseconds unless the OS stopped it, so close() waits — at most
 * CLOSE_WAIT_MS for all positions — then makes it VOID, and that post()
 * throws PortClosedError. A position nobody claimed is corrupt. Returns
 * the cell's sequence number after.
 */
function awaitPublish(p: PortState, pos: number, cell: number, waitUntil: { at: number }): number {
  const i32 = p.i32;
  for (let spin = 0; spin < PUBLISH_SPIN; spin++) if (Atomics.load(i32, cell) !== pos) return Atomics.load(i32, cell);
  const voided = ((pos + 1) & POS_MASK) | VOID_BIT;
  for (;;) {
    const who = owners(p, R_POST, pos | CLAIM);
    if (who.live + who.dead === 0 && Atomics.load(i32, S_ANON) === 0) {
      if (Atomics.load(i32, cell) !== pos) return Atomics.load(i32, cell);
      return p.corrupt(`ring position ${pos} is counted in S_ENQ but no thread claimed it`);
    }
    if (who.live === 0 && who.dead > 0) break;
    if (waitUntil.at === 0) waitUntil.at = performance.now() + CLOSE_WAIT_MS;
    if (performance.now() >= waitUntil.at) break;
    pause();
    if (Atomics.load(i32, cell) !== pos) return Atomics.load(i32, cell);
  }
  const was = Atomics.compareExchange(i32, cell, pos, voided);
  return was === pos ? voided : was;
}
