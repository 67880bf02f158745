/**
 * The port's lock (S_LOCK): the futex mutex of Ulrich Drepper's "Futexes Are
 * Tricky", whose word also names its holder. It guards what the lock-free
 * ring does not: the waiter stack and slots, the running counts, FRONT,
 * close() and releaseThread(). It is held for a few dozen instructions, and
 * no allocation happens while it is held.
 *
 * Keeps I8 for the lock: the word a holder writes to take it is its own tag
 * shifted past LOCK_CONTENDED, in the same CAS, so a holder that dies at any
 * instruction is known by the word; an unrecorded holder also names itself
 * in S_LOCK_ANON, so every lock word names a thread some word of the port
 * knows (else the word is corrupt). And I9's first half: releaseThread()
 * inherits the lock from the thread it releases, and waits only so long for
 * any other holder (acquireForRelease).
 */
import { PortCorruptedError } from '../errors.js';
import { LOCK_CONTENDED, type Memory, S_LOCK, S_LOCK_ANON, S_STUCK_LOCK } from './layout.js';
import { MY_TAG, threadKnown } from './records.js';

/** What this thread writes into S_LOCK to hold it: its tag shifted past LOCK_CONTENDED. */
const MY_LOCK = MY_TAG * 2;
/** CAS attempts on a held lock before sleeping on it: the lock is held for ~100 ns, so a holder that is still running lets go long before this runs out. */
const LOCK_SPIN = 200;
/** A thread asleep on the lock this long checks that the word names a thread that uses the port (else the word is corrupt). */
const LOCK_CHECK_MS = 100;
/** How long releaseThread() waits on a lock held by another thread before it leaves its work to the next holder (I9). */
const RELEASE_LOCK_WAIT_MS = 50;

/** acquireForRelease()'s answers (I9). */
export const LOCKED = 0;
export const INHERITED = 1;
export const DEFERRED = 2;

export class PortLock {
  readonly #m: Memory;
  readonly #i32: Int32Array;
  /** True while this instance holds S_LOCK: a throw lets go of it first. */
  holding = false;
  /** This instance claims unrecorded (no free record): it names itself in S_LOCK_ANON while it holds the lock (I8). */
  unrecorded = false;

  constructor(m: Memory) {
    this.#m = m;
    this.#i32 = m.i32;
  }

  acquire(): void {
    if (Atomics.compareExchange(this.#i32, S_LOCK, 0, MY_LOCK) !== 0) this.#acquireSlow();
    this.#held();
  }

  /** Lets go; wakes one thread asleep on the lock if the word says one may be. */
  release(): void {
    const i32 = this.#i32;
    this.holding = false;
    if (this.unrecorded) Atomics.store(i32, S_LOCK_ANON, 0);
    if ((Atomics.exchange(i32, S_LOCK, 0) & LOCK_CONTENDED) !== 0) Atomics.notify(i32, S_LOCK, 1);
  }

  /**
   * releaseThread's lock (I9). Takes it when free; inherits it from the
   * thread being released (the lock word names its holder); otherwise waits
   * — a live holder lets go within microseconds — for up to
   * RELEASE_LOCK_WAIT_MS, then leaves the release to the next holder: the
   * holder may have died too, its death not reported yet (two workers
   * terminated at once, reported one by one to the thread calling this).
   */
  acquireForRelease(tag: number): number {
    const i32 = this.#i32;
    let last = 0;
    let since = 0;
    for (let spin = 0; ; spin++) {
      const held = Atomics.load(i32, S_LOCK);
      if (held === 0) {
        if (Atomics.compareExchange(i32, S_LOCK, 0, MY_LOCK) === 0) break;
        continue;
      }
      if (held >> 1 === tag) {
        // We inherit its sleepers too, so the contended mark stays.
        if (Atomics.compareExchange(i32, S_LOCK, held, MY_LOCK | (held & LOCK_CONTENDED)) === held) {
          this.#held();
          return INHERITED;
        }
        continue;
      }
      if (held === Atomics.load(i32, S_STUCK_LOCK)) return DEFERRED; // waited out by an earlier release
      if (held !== last) {
        last = held;
        since = performance.now();
      } else if (performance.now() - since >= RELEASE_LOCK_WAIT_MS) {
        Atomics.store(i32, S_STUCK_LOCK, held);
        return DEFERRED;
      }
      if (spin >= LOCK_SPIN) {
        // Marked contended, its holder's unlock notifies us.
        if ((held & LOCK_CONTENDED) === 0) Atomics.compareExchange(i32, S_LOCK, held, held | LOCK_CONTENDED);
        else Atomics.wait(i32, S_LOCK, held, 1);
      }
    }
    this.#held();
    return LOCKED;
  }

  /** The lock is ours. An unrecorded instance names itself where a lock waiter can check the word (I8). */
  #held(): void {
    this.holding = true;
    if (this.unrecorded) Atomics.store(this.#i32, S_LOCK_ANON, MY_TAG);
  }

  #acquireSlow(): void {
    const i32 = this.#i32;
    for (let i = 0; i < LOCK_SPIN; i++) {
      if (Atomics.load(i32, S_LOCK) === 0 && Atomics.compareExchange(i32, S_LOCK, 0, MY_LOCK) === 0) return;
    }
    // LOCK_CONTENDED means "maybe sleepers", so release() knows to notify.
    // Having slept, we take the lock marked contended, since others may still sleep.
    for (;;) {
      const seen = Atomics.load(i32, S_LOCK);
      if (seen === 0) {
        if (Atomics.compareExchange(i32, S_LOCK, 0, MY_LOCK | LOCK_CONTENDED) === 0) return;
      } else if ((seen & LOCK_CONTENDED) !== 0 || Atomics.compareExchange(i32, S_LOCK, seen, seen | LOCK_CONTENDED) === seen) {
        const word = seen | LOCK_CONTENDED;
        // A holder is only ever waited for (I8). One that holds the lock this
        // long is stopped or dead; if no thread by its name uses the port, the word is corrupt.
        if (Atomics.wait(i32, S_LOCK, word, LOCK_CHECK_MS) === 'timed-out' && Atomics.load(i32, S_LOCK) === word) {
          const tag = word >> 1;
          if (tag === MY_TAG || !threadKnown(this.#m, tag)) {
            throw new PortCorruptedError(`the lock word ${word} names thread ${tag - 1}, which does not hold it`);
          }
        }
      }
    }
  }
}
