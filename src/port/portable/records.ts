/**
 * Claim records: one 64-byte line per thread that uses the port, where the
 * thread writes what it is about to claim before the CAS that claims it.
 *
 * Keeps I8: while its thread lives, a record is written by that thread only
 * (once it is dead, by the thread that releases it), so the claims of a
 * thread that died are exactly those in its records. A record is allocated
 * lock-free by a CAS of its R_TID from 0 to the thread's tag (threadId + 1),
 * freed by detach() or by releaseThread() of a dead thread, and looked up by
 * tag.
 */
import { threadId } from 'node:worker_threads';
import { PortCorruptedError } from '../errors.js';
import {
  CLAIM,
  type Memory,
  POS_FLAGS,
  POS_MASK,
  R_DEAD,
  R_FRONT,
  R_GOT,
  R_GOT_PACKET,
  R_POST,
  R_TAKE,
  R_TARGET,
  R_TID,
  RECORD_WORDS,
  S_ANON,
  S_LOCK_ANON,
} from './layout.js';

/** This thread's tag in records (R_TID), slots and lock words: threadId + 1, never 0. */
export const MY_TAG = threadId + 1;

/** Int32 index of record r's first word. */
export function recordBase(m: Memory, r: number): number {
  return m.geo.recordBase + r * RECORD_WORDS;
}

/** Claims a free record for `tag`; returns its index, or -1 if every record is taken (the caller goes unrecorded). */
export function allocRecord(m: Memory, tag: number): number {
  const i32 = m.i32;
  for (let r = 0; r < m.geo.records; r++) {
    const base = recordBase(m, r);
    // A freed record's fields are already 0 (freeRecord clears them before R_TID).
    if (i32[base + R_TID] === 0 && Atomics.compareExchange(i32, base + R_TID, 0, tag) === 0) return r;
  }
  Atomics.add(i32, S_ANON, 1);
  return -1;
}

/**
 * A record for this thread's new port instance: a view of a free record's
 * words (`base` its Int32 index) and of its R_GOT packet, or, when every
 * record is taken, private arrays (`base` -1): the instance then claims
 * unrecorded (S_ANON, I8).
 */
export function claimRecord(m: Memory): { base: number; view: Int32Array; got: Float64Array } {
  const r = allocRecord(m, MY_TAG);
  if (r < 0) return { base: -1, view: new Int32Array(RECORD_WORDS), got: new Float64Array(3) };
  const base = recordBase(m, r);
  return { base, view: new Int32Array(m.i32.buffer, base * 4, RECORD_WORDS), got: new Float64Array(m.i32.buffer, (base + R_GOT_PACKET) * 4, 3) };
}

/** Frees a record: fields first, R_TID last, so whoever takes it next finds it clean. */
export function freeRecord(m: Memory, base: number): void {
  const i32 = m.i32;
  i32[base + R_POST] = 0;
  i32[base + R_TAKE] = 0;
  i32[base + R_FRONT] = 0;
  i32[base + R_TARGET] = 0;
  i32[base + R_DEAD] = 0;
  i32[base + R_GOT] = 0;
  Atomics.store(i32, base + R_TID, 0);
}

/** Bases of every record held by `tag` (a thread may hold one per CompletionPort instance). */
export function recordsOf(m: Memory, tag: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < m.geo.records; r++) {
    const base = recordBase(m, r);
    if (Atomics.load(m.i32, base + R_TID) === tag) out.push(base);
  }
  return out;
}

/**
 * Records of live threads (not `except`, not marked dead) whose `field`
 * holds `value`: threads that may have won the claim a dead thread recorded
 * (both recorded the position before their CAS; only one CAS succeeded).
 */
export function liveContenders(m: Memory, field: number, value: number, except: number): number {
  const i32 = m.i32;
  let n = 0;
  for (let r = 0; r < m.geo.records; r++) {
    const base = recordBase(m, r);
    if (base === except || Atomics.load(i32, base + R_TID) === 0 || Atomics.load(i32, base + R_DEAD) !== 0) continue;
    if (Atomics.load(i32, base + field) === value) n++;
  }
  return n;
}

/** Records (dead or alive) with `field` = `value`: whoever may own a claimed position. */
export function owners(m: Memory, field: number, value: number): { live: number; dead: number } {
  const i32 = m.i32;
  let live = 0;
  let dead = 0;
  for (let r = 0; r < m.geo.records; r++) {
    const base = recordBase(m, r);
    if (Atomics.load(i32, base + R_TID) === 0 || Atomics.load(i32, base + field) !== value) continue;
    if (Atomics.load(i32, base + R_DEAD) !== 0) dead++;
    else live++;
  }
  return { live, dead };
}

/**
 * May the thread with this tag (threadId + 1) hold the lock? Every thread
 * takes a record before it takes the lock, or, if none is free, names itself
 * in S_LOCK_ANON while it holds it (I8). A lock word naming a thread that
 * neither names is corrupt.
 */
export function threadKnown(m: Memory, tag: number): boolean {
  const i32 = m.i32;
  if (tag <= 0) return false;
  if (Atomics.load(i32, S_LOCK_ANON) === tag) return true;
  for (let r = 0; r < m.geo.records; r++) if (Atomics.load(i32, recordBase(m, r) + R_TID) === tag) return true;
  return false;
}

/** A record field's claim: CLAIM | position, or 0. Anything else is corrupt. */
export function claimedPosition(value: number, what: string): number {
  if ((value & POS_FLAGS) !== CLAIM) throw new PortCorruptedError(`${what} = ${value}`);
  return value & POS_MASK;
}
