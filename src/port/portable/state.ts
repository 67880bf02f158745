/**
 * One port instance's view of the port (one per thread that attaches): the
 * typed-array views over the one buffer, the ring and the lock over them,
 * and what this instance keeps for itself — its claim record (I8), its
 * THREAD slot and idle slots, the scratch array packets are copied into
 * under the lock, the slots to wake after unlock, its spin budget and its
 * pending async waits. The parts of the port (./waiters.ts, ./wait.ts,
 * ./close.ts, ./release.ts, ./portable-port.ts) all work on this.
 *
 * Keeps the lock's side of I2 and I9: enter() takes the lock, leave() first
 * finishes the deaths left to the next lock holder (I9) and restores I2
 * (a dispatch), then lets go and wakes the waiters it handed packets to. A
 * locked section always leaves in a `finally`, so a throw (corrupt memory)
 * never leaves the other threads hanging.
 */
import { PortCorruptedError } from '../errors.js';
import type { CompletionPacket } from '../types.js';
import { frontCount, readFront, removeFrontHead } from './front.js';
import {
  CLOSED_BIT,
  FRONT_BIT,
  type Geometry,
  GOT_FRONT,
  H_CONCURRENCY,
  type Memory,
  PACKET_F64,
  R_GOT,
  S_CLOSED,
  S_FRONT_HEAD,
  S_PENDING,
  S_RUNNING,
  S_THREADS,
  PORT_OPEN,
  KIND_THREAD,
  SLOT_WORDS,
  W_RUNNING,
  W_STATE,
} from './layout.js';
import { PortLock } from './lock.js';
import { packetAt } from './packet.js';
import { claimRecord } from './records.js';
import { Ring } from './ring.js';

/**
 * What the state needs of the parts built on it (./release.ts, ./waiters.ts), handed in by
 * ./portable-port.ts: the parts import this file (for the type), so it must not import them.
 * Both are called off the hot path: finishing a death left to the next lock holder (I9), and
 * registering this instance's THREAD slot once.
 */
export interface StateParts {
  finishPending(p: PortState, out: { requeued: number; abandoned: CompletionPacket[] | null }, waitMs: number): void;
  dispatch(p: PortState): void;
  allocSlot(p: PortState, kind: number, owner: number): number;
}

/** A pending getAsync of this instance; detach() settles it (`done`) before it frees the slot. */
export interface AsyncWait {
  done: boolean;
  packet: CompletionPacket | null;
  error: Error | undefined;
}

export class PortState implements Memory {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly geo: Geometry;
  readonly ring: Ring;
  readonly lock: PortLock;
  readonly concurrency: number;
  /**
   * This instance's claim record (I8), a view of its 16 words; null until the
   * first call that claims or locks. A private array when every record was
   * taken (the instance claims unrecorded, S_ANON).
   */
  claims: Int32Array | null = null;
  /** The record's R_GOT packet (I8), set with `claims`. */
  got: Float64Array | null = null;
  /** Int32 index of this instance's record, or -1 (none yet, or unrecorded). */
  record = -1;
  /** This instance's THREAD slot, or -1 until the first call that waits or runs. */
  slot = -1;
  /** Int32 index of this instance's THREAD slot's W_RUNNING, or -1 before it registers. */
  runningWord = -1;
  /** Slots owned by this instance and not in a wait right now (the THREAD slot first). */
  readonly idle: number[] = [];
  /** Where packets taken under the lock are copied: objects are made after unlock. */
  scratch = new Float64Array(PACKET_F64 * 16);
  /** Slots to notify once the lock is let go (leave() notifies them). */
  readonly wake: number[] = [];
  /** True while leave() finishes deaths left to it: no recursion. */
  #finishing = false;
  /** The most this thread spins (settable: spinCount); its current budget is spinBudget (./wait.ts). */
  spin: number;
  spinBudget: number;
  /** Pending getAsync waits of this instance, by slot. */
  readonly asyncPending = new Map<number, AsyncWait>();
  /** How many async waits of this instance are pending, and the ref'd timer that keeps the event loop alive meanwhile (./wait.ts). */
  asyncWaits = 0;
  keepAlive: ReturnType<typeof setInterval> | undefined;

  readonly #parts: StateParts;

  constructor(buffer: SharedArrayBuffer, geo: Geometry, spin: number, parts: StateParts) {
    this.#parts = parts;
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.geo = geo;
    this.ring = new Ring(this.i32, this.f64, geo.cellBase, geo.ringSize, geo.capacity);
    this.lock = new PortLock(this);
    this.concurrency = this.i32[H_CONCURRENCY]!;
    this.spin = spin;
    this.spinBudget = spin;
  }

  /** Int32 index of field `field` of slot `slot`. */
  slotWord(slot: number, field: number): number {
    return this.geo.slotBase + slot * SLOT_WORDS + field;
  }

  /** A value read from shared memory is impossible. */
  corrupt(what: string): never {
    throw new PortCorruptedError(what);
  }

  /** Bounds-checks an index read from shared memory. */
  checkIndex(what: string, value: number, limit: number): number {
    if (value >>> 0 !== value || value >= limit) this.corrupt(`${what} = ${value}, limit ${limit}`);
    return value;
  }

  /** Claims a record for this instance (I8); unrecorded if every record is taken. */
  attachRecord(): Int32Array {
    const { base, view, got } = claimRecord(this);
    this.record = base;
    this.claims = view;
    this.got = got;
    this.ring.record = view;
    this.ring.got = got;
    this.lock.unrecorded = base < 0;
    return view;
  }

  /** Forgets this instance's slots and record (detach(): they were freed under the lock). */
  forget(): void {
    this.slot = -1;
    this.runningWord = -1;
    this.idle.length = 0;
    this.record = -1;
    this.claims = null;
    this.got = null;
    this.ring.record = null;
    this.ring.got = null;
    this.lock.unrecorded = false;
  }

  /** Takes the port's lock. */
  enter(): void {
    if (this.claims === null) this.attachRecord();
    this.lock.acquire();
  }

  /**
   * Lets go of the lock, then notifies the slots queued in `wake`. Deaths left
   * to the next holder (I9) are finished here by the holder that was in the
   * way, so they never wait for a call that may not come.
   */
  leave(): void {
    if (!this.#finishing && Atomics.load(this.i32, S_PENDING) !== 0) {
      this.#finishing = true;
      try {
        this.#parts.finishPending(this, { requeued: 0, abandoned: null }, 0);
        this.#parts.dispatch(this);
      } catch {
        // Corrupt: the call that finds it first in its own work reports it.
      } finally {
        this.#finishing = false;
      }
    }
    this.lock.release();
    const wake = this.wake;
    if (wake.length > 0) {
      for (let i = 0; i < wake.length; i++) Atomics.notify(this.i32, this.slotWord(wake[i]!, W_STATE), 1);
      wake.length = 0;
    }
  }

  /** This instance's THREAD slot, allocated (under the lock) on first use. */
  ensureRegistered(): number {
    if (this.slot >= 0) return this.slot;
    this.enter();
    let slot: number;
    try {
      slot = this.#parts.allocSlot(this, KIND_THREAD, -1);
      this.i32[S_THREADS] = this.i32[S_THREADS]! + 1;
    } finally {
      this.leave();
    }
    this.slot = slot;
    this.runningWord = this.slotWord(slot, W_RUNNING);
    this.idle.push(slot);
    return slot;
  }

  /**
   * May this thread take the next packet without the lock? Only if it holds
   * a running slot (it gives it back and takes it again at once, so
   * S_RUNNING does not change, I2) and it may run (S_RUNNING ≤ concurrency:
   * after giving back it is below the cap). FRONT goes first (I1): its flag
   * in S_DEQ makes the ring's take fail, and sends the take to the lock.
   */
  mayTakeWithoutLock(): boolean {
    const i32 = this.i32;
    return this.runningWord >= 0 && Atomics.load(i32, this.runningWord) > 0 && Atomics.load(i32, S_RUNNING) <= this.concurrency;
  }

  /**
   * Lock held. Takes the packet at the ring's head into scratch[s..s+2]
   * (`hold`: see Ring.dequeueInto). False when none is there; S_DEQ carrying
   * a flag then must be true (a closed port, or packets in FRONT), else the
   * word is corrupt.
   */
  dequeueLocked(s: number, hold: boolean): boolean {
    const ring = this.ring;
    ring.flaggedAt = 0;
    if (ring.dequeueInto(this.scratch, s, hold)) return true;
    // Only the flag the take saw is checked: S_DEQ is read again by no one here (its line is the takers' busiest).
    const deq = ring.flaggedAt;
    if (deq !== 0) {
      if ((deq & CLOSED_BIT) !== 0 && this.i32[S_CLOSED] === PORT_OPEN) this.corrupt(`S_DEQ = ${deq} on an open port`);
      if ((deq & FRONT_BIT) !== 0 && frontCount(this) === 0) this.corrupt(`S_DEQ = ${deq} with FRONT empty`);
    }
    return false;
  }

  /** Lock held. The oldest queued packet (FRONT, then RING) into scratch[s..s+2], or false if none. */
  takeLocked(s: number): boolean {
    if (frontCount(this) === 0) return this.dequeueLocked(s, false);
    // I8: named before it leaves FRONT; a holder that dies between leaves it in FRONT, where
    // releaseThread (which inherits the lock, so FRONT is as it was left) sees it at the head.
    const head = this.i32[S_FRONT_HEAD]!;
    readFront(this, head, this.scratch, s);
    this.noteGot(GOT_FRONT | head, this.scratch, s);
    removeFrontHead(this);
    return true;
  }

  /**
   * I8: this thread is about to make the packet in from[i..i+2] its own for good (it came from
   * `where`, a GOT_* | index): name it in the record first — where, then what — so that
   * releaseThread reports it (lastTaken) unless it is still the port's at the death.
   */
  noteGot(where: number, from: Float64Array, i: number): void {
    const got = this.got!;
    this.claims![R_GOT] = where;
    got[0] = from[i]!;
    got[1] = from[i + 1]!;
    got[2] = from[i + 2]!;
  }

  /** Lock held. Packets queued: FRONT plus the RING's (I6 bounds the RING's). */
  queuedLocked(): number {
    return frontCount(this) + this.ring.queued();
  }

  scratchPacket(s: number): CompletionPacket {
    return packetAt(this.scratch, s);
  }

  ensureScratch(packets: number): void {
    const need = packets * PACKET_F64;
    if (this.scratch.length < need) this.scratch = new Float64Array(Math.max(need, this.scratch.length * 2));
  }

  /** Appends `count` packets from scratch to `out`. */
  collectInto(out: CompletionPacket[], count: number): void {
    for (let i = 0; i < count; i++) out.push(packetAt(this.scratch, i * PACKET_F64));
  }
}
