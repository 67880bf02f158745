/**
 * A waiter's side of a wait: spinning, sleeping (Atomics.wait or
 * Atomics.waitAsync on its own slot's W_STATE word), and the end of the
 * wait. The lock holder's side (push, pop, hand-over) is ./waiters.ts.
 *
 * Keeps the waiter's half of:
 *  I3  a waiter changes its own W_STATE only while it is off the stack, or
 *      from WAITING to SLEEPING with a CAS (a poster that handed it a packet
 *      meanwhile makes the CAS fail); a wait that times out is taken off the
 *      stack under the lock, where a late hand-over is seen.
 *  I4  a HANDED slot's packet is in its mailbox and its owner already counts
 *      as running: the woken waiter reads it and sets its slot IDLE, without
 *      the lock.
 *  I8  (the waiter's half) it names the packet in its record (R_GOT) before
 *      that store: dead before it, the packet is put back; after it, named.
 *
 * The spin adapts, as .NET's LowLevelLifoSemaphore does: a fixed spin
 * shorter than a futex wake-up (~15–20 µs) locks a ping-pong into both
 * sides sleeping every round, and a long fixed spin burns CPU on every idle
 * thread. So each thread times its sleeps: a short one doubles its spin
 * budget (a longer spin would have caught the packet), a long one halves it.
 * Only the sleep path reads the clock; a packet caught spinning costs none.
 */
import { PortClosedError, PortCorruptedError } from '../errors.js';
import type { AsyncWaitConfig } from '../options.js';
import type { CompletionPacket } from '../types.js';
import { GOT_MAIL, SLOT_CLOSED, SLOT_HANDED, SLOT_IDLE, SLOT_SLEEPING, SLOT_WAITING, SLOT_WORDS, W_MAILBOX, W_STATE } from './layout.js';
import { packetAt } from './packet.js';
import type { AsyncWait, PortState } from './state.js';
import { removeWaiter } from './waiters.js';

const MIN_SPIN_DIVISOR = 32;
/**
 * A sleep shorter than this would have been caught by a longer spin: it cost
 * a futex round trip (~15–20 µs here) for nothing, so the spin budget grows.
 * A longer sleep means the thread was idle: spinning longer would only have
 * burnt CPU, so the budget shrinks.
 */
const SHORT_SLEEP_MS = 0.1;

function keepAlive(): void {}

/**
 * Waits on slot w's word until it is no longer WAITING/SLEEPING or the
 * timeout passes. Spins first: a hot thread usually gets its next packet
 * within microseconds, and a spinner costs the poster no notify.
 */
export function waitSync(p: PortState, w: number, timeout: number): number {
  const i32 = p.i32;
  const word = p.slotWord(w, W_STATE);
  let state = spinOn(i32, word, p.spinBudget);
  if (state !== SLOT_WAITING) return state;
  // Announce the sleep; a poster that already handed us a packet makes the CAS fail.
  state = Atomics.compareExchange(i32, word, SLOT_WAITING, SLOT_SLEEPING);
  if (state !== SLOT_WAITING) return state;
  const asleep = performance.now();
  if (timeout === Infinity) {
    do {
      Atomics.wait(i32, word, SLOT_SLEEPING);
      state = Atomics.load(i32, word);
    } while (state === SLOT_SLEEPING);
  } else {
    const deadline = asleep + timeout;
    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        state = Atomics.load(i32, word);
        break;
      }
      Atomics.wait(i32, word, SLOT_SLEEPING, remaining);
      state = Atomics.load(i32, word);
      if (state !== SLOT_SLEEPING) break;
    }
  }
  adaptSpin(p, performance.now() - asleep);
  return state;
}

/** Spins up to n iterations while the word stays WAITING; returns the last state seen. */
function spinOn(i32: Int32Array, word: number, n: number): number {
  let state = SLOT_WAITING;
  for (let i = n; i > 0; i--) {
    state = Atomics.load(i32, word);
    if (state !== SLOT_WAITING) return state;
  }
  return state;
}

function adaptSpin(p: PortState, sleptMs: number): void {
  const max = p.spin;
  if (sleptMs < SHORT_SLEEP_MS) {
    p.spinBudget = Math.min(max, p.spinBudget * 2 || 1);
  } else {
    p.spinBudget = Math.max(Math.floor(max / MIN_SPIN_DIVISOR), p.spinBudget >> 1);
  }
}

/**
 * getAsync's wait on slot w (pushed WAITING if it spins, else SLEEPING):
 * the caller's spin, within this thread's adaptive budget (on a loaded
 * machine a spin that never pays only takes the core the poster needs);
 * then a blocking wait of up to syncMs (a wake-up from Atomics.wait costs
 * less than one through Atomics.waitAsync and the event loop; same slot,
 * same place on the stack); then Atomics.waitAsync. Never throws.
 */
export function waitForAsync(p: PortState, w: number, config: AsyncWaitConfig): Promise<CompletionPacket | null> {
  const { spinCount, syncMs } = config;
  let timeout = config.timeout;
  const i32 = p.i32;
  const word = p.slotWord(w, W_STATE);
  let state = SLOT_SLEEPING;
  if (spinCount > 0) {
    state = spinOn(i32, word, Math.min(spinCount, p.spinBudget));
    if (state === SLOT_WAITING) state = Atomics.compareExchange(i32, word, SLOT_WAITING, SLOT_SLEEPING);
    if (state === SLOT_WAITING) state = SLOT_SLEEPING;
  }
  if (state === SLOT_SLEEPING && syncMs > 0) {
    const until = Math.min(syncMs, timeout);
    const start = performance.now();
    let left = until;
    while (left > 0) {
      Atomics.wait(i32, word, SLOT_SLEEPING, left);
      state = Atomics.load(i32, word);
      if (state !== SLOT_SLEEPING) break;
      left = until - (performance.now() - start);
    }
    // How long this wait slept tells the next spin whether spinning would have paid.
    if (spinCount > 0) adaptSpin(p, performance.now() - start);
    if (state === SLOT_SLEEPING && timeout !== Infinity) {
      timeout -= performance.now() - start;
      if (timeout <= 0) return settle(p, w, state); // timed out: finish() decides under the lock
    }
  }
  if (state !== SLOT_SLEEPING) return settle(p, w, state);
  return waitAsync(p, w, timeout);
}

/** finish() as a promise (getAsync never throws). */
function settle(p: PortState, w: number, state: number): Promise<CompletionPacket | null> {
  try {
    return Promise.resolve(finish(p, w, state));
  } catch (error) {
    return Promise.reject(error);
  }
}

async function waitAsync(p: PortState, w: number, timeout: number): Promise<CompletionPacket | null> {
  const i32 = p.i32;
  const word = p.slotWord(w, W_STATE);
  const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
  const wait: AsyncWait = { done: false, packet: null, error: undefined };
  p.asyncPending.set(w, wait);
  // Atomics.waitAsync holds no ref on the event loop: a thread whose only
  // pending work is a getAsync would simply exit (a worker with exit code 13,
  // "unfinished top-level await"). While any async wait of this instance is
  // pending, one ref'd timer keeps the loop alive; it is created once and
  // then only ref()'d and unref()'d.
  if (p.asyncWaits++ === 0) {
    if (p.keepAlive === undefined) p.keepAlive = setInterval(keepAlive, 0x40000000);
    else p.keepAlive.ref();
  }
  let state = Atomics.load(i32, word);
  try {
    while (!wait.done && state === SLOT_SLEEPING) {
      const remaining = deadline === Infinity ? undefined : deadline - performance.now();
      if (remaining !== undefined && remaining <= 0) break;
      const result = Atomics.waitAsync(i32, word, SLOT_SLEEPING, remaining);
      if (result.async) await result.value;
      // A late notify meant for an earlier wait on this slot can wake us early: loop.
      // detach() settles the wait first (the slot may already serve another thread): look at that first.
      if (!wait.done) state = Atomics.load(i32, word);
    }
  } finally {
    if (p.asyncPending.get(w) === wait) p.asyncPending.delete(w);
    if (--p.asyncWaits === 0) p.keepAlive!.unref();
  }
  if (wait.done) {
    if (wait.error !== undefined) throw wait.error;
    return wait.packet;
  }
  return finish(p, w, state);
}

/**
 * End of a wait on slot w. HANDED: the packet is ours (already counted
 * running, I4). CLOSED: throw. Still WAITING/SLEEPING: timed out — but a
 * poster may hand us a packet right now, so decide under the lock.
 */
export function finish(p: PortState, w: number, state: number): CompletionPacket | null {
  const i32 = p.i32;
  const word = p.slotWord(w, W_STATE);
  if (state === SLOT_WAITING || state === SLOT_SLEEPING) {
    p.enter();
    try {
      state = Atomics.load(i32, word);
      if (state === SLOT_WAITING || state === SLOT_SLEEPING) {
        removeWaiter(p, w);
        Atomics.store(i32, word, SLOT_IDLE);
        p.idle.push(w);
        return null;
      }
    } finally {
      p.leave();
    }
  }
  if (state === SLOT_HANDED) {
    const m = (p.geo.slotBase + w * SLOT_WORDS + W_MAILBOX) >> 1;
    // I8: named before the store that empties the mailbox (a death before it: the packet goes back).
    p.noteGot(GOT_MAIL | w, p.f64, m);
    const packet = packetAt(p.f64, m);
    Atomics.store(i32, word, SLOT_IDLE);
    p.idle.push(w);
    return packet;
  }
  if (state === SLOT_CLOSED) {
    Atomics.store(i32, word, SLOT_IDLE);
    p.idle.push(w);
    throw new PortClosedError();
  }
  throw new PortCorruptedError(`waiter slot ${w} in state ${state}`);
}
