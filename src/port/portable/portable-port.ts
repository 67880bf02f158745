/**
 * The portable backend: an I/O completion port in a SharedArrayBuffer,
 * usable from any thread that holds `port.handle`. This class is its public
 * face; the protocols it composes each have their own file, with the
 * invariants they keep at their top (the invariants themselves, I1–I9, and
 * the memory map are in ./layout.ts: read them first):
 *
 *   ./ring.ts      the lock-free RING of packets (Vyukov's bounded MPMC queue)
 *   ./lock.ts      the lock (S_LOCK) that guards the rest
 *   ./waiters.ts   the waiter stack, the slots, the hand-over (dispatch)
 *   ./wait.ts      a waiter's spin, sleep and wake-up
 *   ./close.ts     close(); ./detach.ts detach()
 *   ./release.ts   releaseThread(), and deaths left to the next lock holder
 *   ./repair.ts    finishing a dead thread's claims; ./records.ts their records
 *   ./front.ts     FRONT, the packets recovered from dead threads
 *   ./state.ts     one instance's views and per-thread state
 *
 * In short: packets go through the lock-free ring; a small lock guards the
 * waiter stack, the running counts, FRONT, close and releaseThread; each
 * waiting thread sleeps on the wait word of its own slot, so the poster can
 * wake exactly the thread it chose (the newest waiter: LIFO) and hand it the
 * packet through the slot's mailbox (a woken thread always has work, and
 * never fights for it).
 */
import { afterSettled } from '../after-settled.js';
import { PortClosedError } from '../errors.js';
import { type AsyncWaitConfig, badPacket, checkMax, isPacket, MAX_BEHIND, MAX_SPIN, type PortConfig, parseGetAsync } from '../options.js';
import { PortBase } from '../port-base.js';
import type { CompletionPacket, GetAsyncOptions, PortablePortHandle, PortStats, ReleasedThread } from '../types.js';
import { checkFunction, checkInteger, checkTimeout } from '../validate.js';
import { close } from './close.js';
import { detach } from './detach.js';
import { createPortBuffer, readHeader } from './header.js';
import {
  CLOSED_BIT,
  FRONT_BIT,
  type Geometry,
  PACKET_F64,
  PORT_CLOSED,
  PORT_CLOSING,
  PORT_OPEN,
  S_CLOSED,
  S_DEQ,
  S_RUNNING,
  S_THREADS,
  S_WAITING,
  SLOT_SLEEPING,
  SLOT_WAITING,
  W_RUNNING,
  W_STATE,
} from './layout.js';
import { finishPending, releaseThread } from './release.js';
import type { Ring } from './ring.js';
import { PortState, type StateParts } from './state.js';
import { finish, waitForAsync, waitSync } from './wait.js';
import { allocSlot, dispatch, firstInLine, pushWaiter, rerankWaiter } from './waiters.js';

/** The parts the state calls back into (see StateParts: the state cannot import them). */
const PARTS: StateParts = Object.freeze({ finishPending, dispatch, allocSlot });

/** begin()'s answers besides a waiter slot (slot indices are ≥ 0): a packet was taken into scratch, or none and no wait. */
const TAKE = -1;
const NONE = -2;
/** begin()'s waiterState for a call that must not wait (timeout 0). */
const NO_WAIT = 0;

export class PortablePort extends PortBase {
  readonly handle: PortablePortHandle;
  readonly #s: PortState;
  // Copies read on every post.
  readonly #ring: Ring;
  readonly #i32: Int32Array;
  readonly #concurrency: number;
  /** The slot of this instance's latest getAsync that had to wait (rerank moves it); -1: none. */
  #asyncWait = -1;

  private constructor(buffer: SharedArrayBuffer, geo: Geometry, spin: number) {
    super();
    const s = new PortState(buffer, geo, spin, PARTS);
    this.#s = s;
    this.#ring = s.ring;
    this.#i32 = s.i32;
    this.#concurrency = s.concurrency;
    this.handle = Object.freeze({ backend: 'portable', buffer });
  }

  /** A new port (CreateIoCompletionPort), from checked options. */
  static create(config: PortConfig): PortablePort {
    const { buffer, geo } = createPortBuffer(config);
    return new PortablePort(buffer, geo, config.spinCount);
  }

  /** Attaches to a port's buffer (every header field checked); `spin` overrides the port's spin count. */
  static attach(buffer: SharedArrayBuffer, spin: number | undefined): PortablePort {
    const header = readHeader(buffer);
    return new PortablePort(buffer, header.geo, spin === undefined ? header.spin : spin);
  }

  get concurrency(): number {
    return this.#concurrency;
  }

  get capacity(): number {
    return this.#s.geo.capacity;
  }

  get closed(): boolean {
    return Atomics.load(this.#i32, S_CLOSED) !== PORT_OPEN;
  }

  get spinCount(): number {
    return this.#s.spin;
  }

  set spinCount(value: number) {
    const s = this.#s;
    s.spin = checkInteger('spinCount', value, 0, MAX_SPIN);
    // The adaptive budget starts again from the new bound (./wait.ts).
    s.spinBudget = s.spin;
  }

  // ───────────────────────────── post ─────────────────────────────

  post(bytesTransferred = 0, completionKey = 0, overlapped = 0): boolean {
    // Checked inline: this is the hot path, and a failed check is the rare case.
    if (!isPacket(bytesTransferred, completionKey, overlapped)) badPacket(bytesTransferred, completionKey, overlapped);
    const s = this.#s;
    if (s.claims === null) s.attachRecord();
    // Always through the RING, never straight into a mailbox: an older packet
    // may still sit in the ring, and FIFO (I1) puts this one after it. The
    // uint32 is what is stored: the same number, except that -0 becomes 0.
    if (!this.#ring.post(bytesTransferred >>> 0, completionKey, overlapped)) return false;
    // I2: published first, then look for a waiter that may run. With nobody
    // waiting (a busy pool, a pipeline) this is two reads of a line nobody writes.
    const i32 = this.#i32;
    if (Atomics.load(i32, S_WAITING) !== 0 && Atomics.load(i32, S_RUNNING) < this.#concurrency) this.#kick();
    return true;
  }

  /** A waiter may run and a packet is queued: release it under the lock (I2). */
  #kick(): void {
    const s = this.#s;
    s.enter();
    try {
      dispatch(s);
    } finally {
      s.leave();
    }
  }

  // ───────────────────────────── get ─────────────────────────────

  get(timeoutMs?: number): CompletionPacket | null {
    const timeout = timeoutMs === undefined ? Infinity : checkTimeout('timeoutMs', timeoutMs);
    const s = this.#s;
    // Fast path: a running thread that comes back for work gives back its
    // running slot and takes the next packet — net, its slot stays, and no
    // lock is taken (I2). Most gets in a busy pool end here.
    if (s.mayTakeWithoutLock() && this.#ring.dequeueInto(s.scratch, 0, false)) return s.scratchPacket(0);
    const w = this.#begin(timeout === 0 ? NO_WAIT : SLOT_WAITING, 0);
    if (w === TAKE) return s.scratchPacket(0);
    if (w === NONE) return null;
    return finish(s, w, waitSync(s, w, timeout));
  }

  getMany(max: number, timeoutMs?: number): CompletionPacket[] {
    checkMax(max);
    const timeout = timeoutMs === undefined ? Infinity : checkTimeout('timeoutMs', timeoutMs);
    const s = this.#s;
    let first: CompletionPacket | null = null;
    if (s.mayTakeWithoutLock() && this.#ring.dequeueInto(s.scratch, 0, false)) first = s.scratchPacket(0);
    if (first === null) {
      const w = this.#begin(timeout === 0 ? NO_WAIT : SLOT_WAITING, 0);
      if (w === NONE) return [];
      if (w === TAKE) first = s.scratchPacket(0);
      else {
        first = finish(s, w, waitSync(s, w, timeout));
        if (first === null) return [];
      }
    }
    const out = [first];
    // This thread holds a running slot now; the rest come without a wait.
    if (max > 1) this.#takeMore(out, max);
    return out;
  }

  /**
   * get() for a thread that must not block: waits with Atomics.waitAsync, so
   * the event loop keeps running. Shares the one LIFO order with sync waiters.
   */
  getAsync(timeoutMs?: number, options?: GetAsyncOptions): Promise<CompletionPacket | null> {
    const s = this.#s;
    let w: number;
    let config: AsyncWaitConfig;
    try {
      config = parseGetAsync(timeoutMs, options);
      // Lock-free only when no waiter could come first: a waiter behind others (rank > 0) takes
      // a queued packet only if no lighter waiter waits, which the stack says under the lock.
      if (
        s.mayTakeWithoutLock() &&
        (config.behind === 0 || Atomics.load(this.#i32, S_WAITING) === 0) &&
        this.#ring.dequeueInto(s.scratch, 0, false)
      ) {
        return Promise.resolve(s.scratchPacket(0));
      }
      // By default no spin: it would stall the event loop this method exists
      // to keep free. A caller that knows a packet is imminent (a pool with
      // tasks in flight) may ask for a short one.
      w = this.#begin(config.timeout === 0 ? NO_WAIT : config.spinCount > 0 ? SLOT_WAITING : SLOT_SLEEPING, config.behind);
      if (w === TAKE) return Promise.resolve(s.scratchPacket(0));
      if (w === NONE) return Promise.resolve(null);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#asyncWait = w;
    return waitForAsync(s, w, config);
  }

  /**
   * The latest getAsync of this thread, if it still waits, now waits with rank `behind` (the
   * getAsync option): it moves to where a new wait of that rank would stand. No-op once that
   * wait has ended.
   */
  override rerank(behind: number | boolean): void {
    const rank = behind === false ? 0 : behind === true ? 1 : checkInteger('behind', behind, 0, MAX_BEHIND);
    const w = this.#asyncWait;
    if (w < 0) return;
    const s = this.#s;
    const i32 = this.#i32;
    s.enter();
    try {
      const state = Atomics.load(i32, s.slotWord(w, W_STATE));
      // Still this wait's, and still waiting: a slot goes back to this instance's idle list when its wait ends.
      if (state !== SLOT_WAITING && state !== SLOT_SLEEPING) return;
      rerankWaiter(s, w, rank);
      // I2: a packet posted while the count was one low found no waiter; hand it now.
      dispatch(s);
    } finally {
      s.leave();
    }
  }

  /**
   * The slow start of every get: attach if needed, lock, give back this
   * thread's running slot, throw if closed; then take the oldest packet if
   * the cap allows and no lighter waiter waits (TAKE: it is in
   * scratch[0..2], and the caller counts as running), else return NONE
   * (waiterState NO_WAIT) or push a waiter in waiterState with `rank` and
   * return its slot. The lock is released before return.
   */
  #begin(waiterState: number, rank: number): number {
    const s = this.#s;
    if (s.slot < 0) s.ensureRegistered();
    const i32 = this.#i32;
    s.enter();
    try {
      const owner = s.runningWord;
      const held = i32[owner]!;
      if (held > 0) {
        // Give back one running slot: this thread is done with the packet it had.
        i32[owner] = held - 1;
        Atomics.sub(i32, S_RUNNING, 1);
      }
      const closed = i32[S_CLOSED]!;
      if (closed !== PORT_OPEN) {
        if (closed !== PORT_CLOSING && closed !== PORT_CLOSED) s.corrupt(`S_CLOSED = ${closed}`);
        throw new PortClosedError();
      }
      const running = i32[S_RUNNING]!;
      if (running >>> 0 !== running || running > 2 * s.geo.maxThreads) s.corrupt(`S_RUNNING = ${running}`);
      // A thread that comes back to get while packets wait takes one at once,
      // without sleeping — even if older waiters exist (they are over the cap) —
      // unless it waits behind a lighter waiter, which the dispatch below serves.
      if (running < this.#concurrency && firstInLine(s, rank) && s.takeLocked(0)) {
        i32[owner] = i32[owner]! + 1;
        Atomics.add(i32, S_RUNNING, 1);
        return TAKE;
      }
      if (waiterState === NO_WAIT) {
        // I2: a packet left to a lighter waiter, now that this thread gave its slot back.
        if (rank > 0) dispatch(s);
        return NONE;
      }
      const w = pushWaiter(s, waiterState, rank);
      // I2: a packet published after our look above and before the push saw no
      // waiter, or one queued beside a lighter waiter: the dispatch hands it to
      // the top of the stack (us, unless a lighter waiter waits).
      dispatch(s);
      return w;
    } finally {
      s.leave();
    }
  }

  /**
   * getMany after its first packet: this thread holds a running slot, so it
   * takes more without a wait — from the RING without the lock, or, when
   * packets wait in FRONT (rare), under the lock. Closed means nothing more
   * to take (I7).
   */
  #takeMore(out: CompletionPacket[], max: number): void {
    const s = this.#s;
    while (out.length < max && this.#ring.dequeueInto(s.scratch, 0, false)) out.push(s.scratchPacket(0));
    if (out.length >= max || (Atomics.load(this.#i32, S_DEQ) & (FRONT_BIT | CLOSED_BIT)) !== FRONT_BIT) return;
    const want = Math.min(max - out.length, s.geo.capacity + s.geo.frontSize);
    s.ensureScratch(want);
    s.enter();
    let count = 0;
    try {
      while (count < want && s.takeLocked(count * PACKET_F64)) count++;
    } finally {
      s.leave();
    }
    // Objects are made after unlock: a thread that dies of OOM never dies holding the lock.
    s.collectInto(out, count);
  }

  // ─────────────────────────── blocking ───────────────────────────

  blocking<T>(fn: () => T): T {
    checkFunction('fn', fn);
    const s = this.#s;
    const slot = s.ensureRegistered();
    const owner = s.slotWord(slot, W_RUNNING);
    const i32 = this.#i32;
    s.enter();
    const held = i32[owner]!;
    try {
      if (held > 0) {
        i32[owner] = 0;
        Atomics.sub(i32, S_RUNNING, held);
        dispatch(s);
      }
    } finally {
      s.leave();
    }
    const reacquire = (): void => {
      if (held === 0 || s.slot !== slot) return;
      s.enter();
      i32[owner] = i32[owner]! + held;
      Atomics.add(i32, S_RUNNING, held);
      s.leave();
    };
    return afterSettled(fn, reacquire);
  }

  // ─────────────────────── close, threads, stats ───────────────────────

  close(): CompletionPacket[] {
    return close(this.#s);
  }

  releaseThread(deadThreadId: number): ReleasedThread {
    checkInteger('threadId', deadThreadId, 0, 0x7fffffff);
    return releaseThread(this.#s, deadThreadId);
  }

  /**
   * Gives back this thread's slots and record; the instance may attach again
   * on its next call. A getAsync of this instance still pending is settled
   * first: rejected if it was still waiting, resolved with its packet if one
   * was already handed to it.
   */
  detach(): void {
    detach(this.#s);
  }

  stats(): PortStats {
    const s = this.#s;
    const i32 = this.#i32;
    s.enter();
    try {
      return {
        queued: s.queuedLocked(),
        running: i32[S_RUNNING]!,
        waiting: i32[S_WAITING]!,
        threads: i32[S_THREADS]!,
        concurrency: this.#concurrency,
        capacity: s.geo.capacity,
        closed: i32[S_CLOSED] !== PORT_OPEN,
        backend: 'portable',
      };
    } finally {
      s.leave();
    }
  }
}
