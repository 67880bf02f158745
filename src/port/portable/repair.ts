/**
 * Finishing what a dead thread left unfinished. Lock held for every call
 * here. Nothing in this file decides that a thread is dead: its caller knows
 * (releaseThread was told, or the thread's slots and records were marked
 * dead by an earlier releaseThread).
 *
 * Keeps I8: only the claims a dead thread's records name are finished — a
 * poster's position becomes VOID, a taker's packet goes back to FRONT (or
 * to the caller once the port is closed), a FRONT packet already handed to
 * a waiter is removed; a claim another live thread may have won is waited
 * for, and left for later if it stays ambiguous (I9). And after a holder's
 * death, the words that summarise the slots are rebuilt from the slots
 * (rebuildAfterDeath: I3, I5, and FRONT_BIT for I1). What it had taken for
 * good is named in its records (lastTaken), for the caller to reconcile.
 */
import { PortCorruptedError } from '../errors.js';
import type { CompletionPacket } from '../types.js';
import { frontCount, removeFrontHead, requeueFront, syncFrontBit } from './front.js';
import {
  C_PAYLOAD,
  CELL_WORDS,
  CLAIM,
  GOT_FRONT,
  GOT_KIND,
  GOT_MAIL,
  GOT_RING,
  KIND_FREE,
  KIND_THREAD,
  type Memory,
  PORT_OPEN,
  POS_MASK,
  R_FRONT,
  R_GOT,
  R_GOT_PACKET,
  R_POST,
  R_TAKE,
  R_TARGET,
  S_CLOSED,
  S_DEQ,
  S_ENQ,
  S_FRONT_HEAD,
  S_RUNNING,
  S_THREADS,
  S_VOID,
  S_WAITING,
  SLOT_WORDS,
  STACK_BASE,
  SLOT_HANDED,
  SLOT_IDLE,
  SLOT_SLEEPING,
  SLOT_WAITING,
  VOID_BIT,
  W_BEHIND,
  W_KIND,
  W_RUNNING,
  W_STATE,
} from './layout.js';
import { num, packetAt } from './packet.js';
import { claimedPosition, liveContenders, owners } from './records.js';

/** Where packets recovered from the dead go: FRONT while the port is open, the caller once it is closed. */
export interface Recovery {
  requeued: number;
  abandoned: CompletionPacket[];
}

/** Puts a recovered packet back: in FRONT if the port is open, else into `abandoned`. */
export function recover(m: Memory, out: Recovery, bytesTransferred: number, completionKey: number, overlapped: number): void {
  if (m.i32[S_CLOSED] === PORT_OPEN) {
    requeueFront(m, bytesTransferred, completionKey, overlapped);
    out.requeued++;
  } else {
    out.abandoned.push({ bytesTransferred: num(bytesTransferred), completionKey: num(completionKey), overlapped: num(overlapped) });
  }
}

let pauseCell: Int32Array | undefined;
/** Sleeps 50 µs: waiting for a live thread to finish a claim. */
export function pause(): void {
  Atomics.wait((pauseCell ??= new Int32Array(new SharedArrayBuffer(4))), 0, 0, 0.05);
}

function cellOf(m: Memory, pos: number): number {
  return m.geo.cellBase + (pos & (m.geo.ringSize - 1)) * CELL_WORDS;
}

/** Signed distance a − b between two positions modulo 2^30. */
function ahead(a: number, b: number): number {
  return ((a - b) << 2) >> 2;
}

const DONE = true;
const AMBIGUOUS = false;

/** A dead thread's R_POST: VOID its position if it claimed it and never published. */
function finishPost(m: Memory, base: number): boolean {
  const i32 = m.i32;
  const value = i32[base + R_POST]!;
  const pos = claimedPosition(value, 'record R_POST');
  // Not claimed by anyone yet: its CAS never happened.
  if (ahead(Atomics.load(i32, S_ENQ) & POS_MASK, pos) <= 0) return DONE;
  const cell = cellOf(m, pos);
  if (Atomics.load(i32, cell) !== pos) return DONE; // published, or finished already
  // Claimed and unpublished: by the dead thread, or by a live one that recorded it too and won the CAS.
  if (liveContenders(m, R_POST, value, base) > 0) return AMBIGUOUS;
  if (Atomics.compareExchange(i32, cell, pos, ((pos + 1) & POS_MASK) | VOID_BIT) === pos) Atomics.add(i32, S_VOID, 1);
  return DONE;
}

/** Was the packet a dead lock holder was handing over already given to its waiter (R_TARGET)? */
function delivered(m: Memory, base: number): boolean {
  const target = m.i32[base + R_TARGET]! - 1;
  if (target < 0) return false;
  if (target >= m.geo.maxThreads) throw new PortCorruptedError(`record R_TARGET = ${target + 1}`);
  // While the holder held the lock, its waiter could only go from WAITING/SLEEPING to HANDED, then IDLE.
  const state = Atomics.load(m.i32, m.geo.slotBase + target * SLOT_WORDS + W_STATE);
  return state === SLOT_HANDED || state === SLOT_IDLE;
}

/** A dead thread's R_TAKE: free its cell, and requeue the packet unless it reached a waiter. */
function finishTake(m: Memory, base: number, out: Recovery): boolean {
  const i32 = m.i32;
  const value = i32[base + R_TAKE]!;
  const pos = claimedPosition(value, 'record R_TAKE');
  if (ahead(Atomics.load(i32, S_DEQ) & POS_MASK, pos) <= 0) return DONE;
  const cell = cellOf(m, pos);
  const seq = Atomics.load(i32, cell);
  if (ahead(seq, pos + 1) !== 0) return DONE; // freed already (VOID_BIT is shifted out by ahead)
  if (liveContenders(m, R_TAKE, value, base) > 0) return AMBIGUOUS;
  const freed = (pos + m.geo.ringSize) & POS_MASK;
  if ((seq & VOID_BIT) !== 0 || delivered(m, base)) {
    if (Atomics.compareExchange(i32, cell, seq, freed) === seq && (seq & VOID_BIT) !== 0) Atomics.sub(i32, S_VOID, 1);
    return DONE;
  }
  const f = (cell + C_PAYLOAD) >> 1;
  const b = m.f64[f]!;
  const k = m.f64[f + 1]!;
  const o = m.f64[f + 2]!;
  if (Atomics.compareExchange(i32, cell, seq, freed) === seq) recover(m, out, b, k, o);
  return DONE;
}

/**
 * The packet a dead thread's record names in R_GOT (I8), unless the port still holds it and is
 * about to put it back: a ring take whose claim is still recorded and whose cell was never freed
 * (finishTake requeues it), a mailbox still HANDED (freeSlot requeues it), or the FRONT head the
 * dead holder had not removed yet (`inherited`: it died holding the lock, so FRONT is as it left
 * it). Call before the claims and slots are finished, or before they are marked dead (I9): until
 * then nothing but the dead thread wrote these words. A corrupt R_GOT throws.
 */
export function lastTaken(m: Memory, base: number, inherited: boolean): CompletionPacket | null {
  const i32 = m.i32;
  const got = i32[base + R_GOT]!;
  if (got === 0) return null;
  const at = got & POS_MASK;
  switch (got & GOT_KIND) {
    case GOT_RING:
      if (i32[base + R_TAKE] === (at | CLAIM) && ahead(Atomics.load(i32, cellOf(m, at)), at + 1) === 0) return null;
      break;
    case GOT_MAIL:
      if (at >= m.geo.maxThreads) throw new PortCorruptedError(`record R_GOT = ${got}`);
      if (Atomics.load(i32, m.geo.slotBase + at * SLOT_WORDS + W_STATE) === SLOT_HANDED) return null;
      break;
    case GOT_FRONT:
      if (at >= m.geo.frontSize) throw new PortCorruptedError(`record R_GOT = ${got}`);
      if (inherited && frontCount(m) > 0 && i32[S_FRONT_HEAD] === at) return null;
      break;
    default:
      throw new PortCorruptedError(`record R_GOT = ${got}`);
  }
  return packetAt(m.f64, (base + R_GOT_PACKET) >> 1);
}

/** A dead lock holder's R_FRONT: remove the FRONT packet it had already handed to its waiter. */
function finishFront(m: Memory, base: number): void {
  const head = m.i32[base + R_FRONT]! - 1;
  if (frontCount(m) > 0 && m.i32[S_FRONT_HEAD] === head && delivered(m, base)) removeFrontHead(m);
}

/**
 * Finishes the claims recorded in a dead thread's record (I8). Returns false
 * if one is still ambiguous after `waitMs` — a live thread recorded the same
 * position and has not moved on — and leaves that one for later (I9).
 */
export function finishClaims(m: Memory, base: number, out: Recovery, waitMs: number): boolean {
  const i32 = m.i32;
  const deadline = performance.now() + waitMs;
  for (;;) {
    if (i32[base + R_POST] !== 0 && finishPost(m, base)) i32[base + R_POST] = 0;
    if (i32[base + R_TAKE] !== 0 && finishTake(m, base, out)) i32[base + R_TAKE] = 0;
    if (i32[base + R_POST] === 0 && i32[base + R_TAKE] === 0) break;
    if (performance.now() >= deadline) return false;
    pause();
  }
  if (i32[base + R_FRONT] !== 0) finishFront(m, base);
  i32[base + R_FRONT] = 0;
  i32[base + R_TARGET] = 0;
  return true;
}

/**
 * An unrecorded thread died (S_ANON > 0, I8): its claims are in no record.
 * Finds every claim in the ring that no record owns, waits up to `waitMs`
 * for live unrecorded threads to finish theirs, and finishes the rest: a
 * poster's position becomes VOID, a taker's packet is requeued. An
 * unrecorded live thread whose claim is finished for it sees its CAS fail and
 * takes the next position; nothing is lost or delivered twice. Costs one
 * pass over the ring.
 */
export function scanRing(m: Memory, out: Recovery, waitMs: number): void {
  const i32 = m.i32;
  const size = m.geo.ringSize;
  // S_DEQ first: S_ENQ only grows, so the S_ENQ read after it is never behind it.
  // Never more than capacity positions between them (I6); read against an S_DEQ that did not move meanwhile, more is corrupt.
  let deq = 0;
  let enq = 0;
  for (let tries = 0; ; tries++) {
    deq = Atomics.load(i32, S_DEQ) & POS_MASK;
    enq = Atomics.load(i32, S_ENQ) & POS_MASK;
    if (((enq - deq) & POS_MASK) <= m.geo.capacity) break;
    if ((Atomics.load(i32, S_DEQ) & POS_MASK) === deq || tries > 1000) {
      throw new PortCorruptedError(`${(enq - deq) & POS_MASK} ring positions queued, capacity ${m.geo.capacity}`);
    }
  }
  const taken = (pos: number): boolean => ((pos - deq) & POS_MASK) >= ((enq - deq) & POS_MASK);
  const unfinished = (pos: number): boolean => {
    const seq = Atomics.load(i32, cellOf(m, pos));
    return taken(pos) ? ahead(seq, pos + 1) === 0 : seq === pos;
  };
  // Positions some record owns are its thread's to finish (or its releaseThread's).
  const owned = (pos: number): boolean => {
    const o = owners(m, taken(pos) ? R_TAKE : R_POST, pos | CLAIM);
    return o.live + o.dead > 0;
  };
  let stuck: number[] = [];
  for (let pos = (deq - size) & POS_MASK; pos !== enq; pos = (pos + 1) & POS_MASK) if (unfinished(pos)) stuck.push(pos);
  const deadline = performance.now() + waitMs;
  while (stuck.length > 0 && performance.now() < deadline) {
    pause();
    stuck = stuck.filter(unfinished);
  }
  for (const pos of stuck) {
    if (!unfinished(pos) || owned(pos)) continue;
    const cell = cellOf(m, pos);
    if (!taken(pos)) {
      if (Atomics.compareExchange(i32, cell, pos, ((pos + 1) & POS_MASK) | VOID_BIT) === pos) Atomics.add(i32, S_VOID, 1);
      continue;
    }
    const seq = Atomics.load(i32, cell);
    const f = (cell + C_PAYLOAD) >> 1;
    const b = m.f64[f]!;
    const k = m.f64[f + 1]!;
    const o = m.f64[f + 2]!;
    if (Atomics.compareExchange(i32, cell, seq, (pos + size) & POS_MASK) !== seq) continue;
    if ((seq & VOID_BIT) !== 0) Atomics.sub(i32, S_VOID, 1);
    else recover(m, out, b, k, o);
  }
}

/**
 * The lock was inherited from a thread that died holding it
 * (worker.terminate() stops a thread at any instruction). It may have
 * stopped between two writes that belong together; rebuild the words that
 * summarise the slots from the slots themselves:
 *  - the waiter stack (I3): keep the entries that are waiting slots, once
 *    each, in order; a waiting slot missing from it (a push or pop cut in
 *    half) goes back at the bottom of its rank, as the oldest waiter of it;
 *    then the entries are ordered by rank (a stable sort: the order within
 *    a rank is kept), so a push cut half way through its shift is undone;
 *  - S_RUNNING = the sum of W_RUNNING (I5), S_THREADS = the THREAD slots;
 *  - FRONT_BIT from FRONT's count (I1).
 * What the dead holder had claimed is in its records (finishClaims).
 */
export function rebuildAfterDeath(m: Memory): void {
  const i32 = m.i32;
  const maxThreads = m.geo.maxThreads;
  const slotWord = (slot: number, field: number): number => m.geo.slotBase + slot * SLOT_WORDS + field;
  const isWaiting = (slot: number): boolean => {
    const state = Atomics.load(i32, slotWord(slot, W_STATE));
    return i32[slotWord(slot, W_KIND)] !== KIND_FREE && (state === SLOT_WAITING || state === SLOT_SLEEPING);
  };
  const depth = Math.min(Math.max(i32[S_WAITING]!, 0), maxThreads);
  const kept: number[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < depth; i++) {
    const slot = i32[STACK_BASE + i]!;
    if (slot >>> 0 === slot && slot < maxThreads && !seen.has(slot) && isWaiting(slot)) {
      kept.push(slot);
      seen.add(slot);
    }
  }
  const stack: number[] = [];
  let running = 0;
  let threads = 0;
  for (let slot = 0; slot < maxThreads; slot++) {
    if (!seen.has(slot) && isWaiting(slot)) stack.push(slot);
    if (i32[slotWord(slot, W_KIND)] === KIND_THREAD) {
      running += Math.max(0, i32[slotWord(slot, W_RUNNING)]!);
      threads++;
    }
  }
  for (const slot of kept) stack.push(slot);
  // Heaviest at the bottom (I3); Array.prototype.sort is stable. A corrupt rank sorts as it reads:
  // the stack stays a permutation of the waiting slots, which is what the other invariants need.
  const rank = (slot: number): number => i32[slotWord(slot, W_BEHIND)]!;
  stack.sort((a, b) => rank(b) - rank(a));
  for (let i = 0; i < stack.length; i++) i32[STACK_BASE + i] = stack[i]!;
  Atomics.store(i32, S_WAITING, stack.length);
  Atomics.store(i32, S_RUNNING, running);
  i32[S_THREADS] = threads;
  syncFrontBit(m);
}
