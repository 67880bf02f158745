/**
 * What only some run() tasks have, kept off the common path: a timeout and an
 * onProgress, per slot (the slot's words are in pool/layout.ts). TaskTable owns the
 * slots; this keeps the timers, the progress callbacks, and which slots are
 * orphans — tasks settled by their timeout whose result has not come yet.
 */
import { TimeoutError } from '../errors.js';
import { F_PROGRESS, F_TIMEOUT, RUNNING, slotWord, T_OWNER, T_START, T_STATE, T_TICKET } from '../layout.js';

/** After a task's timeout, how long its handler has to return before its thread is terminated (ms). */
export const TIMEOUT_GRACE_MS = 100;

/** The rarely used run() options. */
export interface TaskExtras {
  timeout: number | undefined;
  onProgress: ((value: unknown) => void) | undefined;
}

/** What the extras need of the task table: its words, whether a run() still waits, how to settle one, and the threads. */
export interface ExtrasHost {
  readonly slots: number;
  readonly slotBytes: number;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  /** The run() in `slot` has not settled yet. */
  waiting(slot: number): boolean;
  /** The run() in `slot` settles now with `error`; its slot stays the thread's (an orphan). */
  expire(slot: number, error: Error): void;
  readonly threads: {
    /** A task with onProgress was submitted: progress values must be delivered as they come. */
    listenForProgress(): void;
    /** The signal of a running task aborted, or its timeout passed: tell thread `owner` (the ticket names the task). */
    abort(owner: number, slot: number, ticket: number, timeout: boolean): void;
    /** A task ran past its timeout and its handler did not return within the grace: stop thread `owner`. */
    stopForTimeout(owner: number): void;
  };
}

export class ExtrasTable {
  readonly #host: ExtrasHost;
  readonly #onProgress: (((value: unknown) => void) | undefined)[];
  readonly #timeout: Float64Array;
  readonly #timers: (NodeJS.Timeout | undefined)[];
  readonly #orphan: Uint8Array;

  constructor(host: ExtrasHost) {
    this.#host = host;
    const slots = host.slots;
    this.#onProgress = new Array(slots).fill(undefined);
    this.#timeout = new Float64Array(slots);
    this.#timers = new Array(slots).fill(undefined);
    this.#orphan = new Uint8Array(slots);
  }

  /** Sets up a task's timeout and onProgress; returns the flags they add. */
  set(slot: number, w: number, ticket: number, extras: TaskExtras): number {
    let flags = 0;
    if (extras.onProgress !== undefined) {
      flags |= F_PROGRESS;
      this.#onProgress[slot] = extras.onProgress;
      this.#host.threads.listenForProgress();
    }
    if (extras.timeout !== undefined) {
      flags |= F_TIMEOUT;
      this.#timeout[slot] = extras.timeout;
      this.#host.f64[(w >> 1) + T_START] = 0; // the thread writes when the handler starts
      this.#arm(slot, ticket, extras.timeout);
    }
    return flags;
  }

  /** A progress value from the thread running the task with `ticket` in `slot`. */
  progress(slot: number, ticket: number, value: unknown): void {
    // The index came from another thread: check it (A4); a value for a task that settled is dropped.
    const host = this.#host;
    if (slot >>> 0 !== slot || slot >= host.slots) return;
    if (host.i32[slotWord(host.slotBytes, slot) + T_TICKET] !== ticket) return;
    this.#onProgress[slot]?.(value);
  }

  /** The task in `slot` settled by its timeout before its result came: the result only frees the slot. */
  orphaned(slot: number): boolean {
    return this.#orphan[slot] === 1;
  }

  /** The slot is being freed: no timer, no callback, no orphan left. */
  clear(slot: number): void {
    const timer = this.#timers[slot];
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#timers[slot] = undefined;
    }
    this.#onProgress[slot] = undefined;
    this.#orphan[slot] = 0;
  }

  /**
   * A timeout is counted from when the handler starts (T_START, written by the thread). The timer
   * looks at the slot: not started yet → look again `timeout` ms later; started → fire at start +
   * timeout exactly (however late the start was noticed, the deadline is computed from it).
   */
  #arm(slot: number, ticket: number, wait: number): void {
    const timer = setTimeout(() => this.#check(slot, ticket), Math.max(1, wait));
    timer.unref(); // a task in flight keeps the pool ref'd anyway
    this.#timers[slot] = timer;
  }

  #check(slot: number, ticket: number): void {
    const host = this.#host;
    const i32 = host.i32;
    this.#timers[slot] = undefined;
    const w = slotWord(host.slotBytes, slot);
    if (i32[w + T_TICKET] !== ticket || !host.waiting(slot)) return; // settled
    const timeout = this.#timeout[slot]!;
    const started = Atomics.load(i32, w + T_STATE) === RUNNING ? host.f64[(w >> 1) + T_START]! : 0;
    const left = started === 0 ? timeout : timeout - (performance.timeOrigin + performance.now() - started);
    if (started === 0 || left > 0) {
      this.#arm(slot, ticket, left);
      return;
    }
    // Expired: the run() rejects now; the handler sees its signal abort; the slot stays the
    // thread's until its result comes (an orphan). Still running after the grace: stop the thread.
    this.#onProgress[slot] = undefined;
    this.#orphan[slot] = 1;
    host.expire(slot, new TimeoutError(timeout));
    const owner = i32[w + T_OWNER]!;
    host.threads.abort(owner, slot, ticket, true);
    const grace = setTimeout(() => {
      this.#timers[slot] = undefined;
      if (this.#orphan[slot] === 1 && i32[w + T_TICKET] === ticket) host.threads.stopForTimeout(owner);
    }, TIMEOUT_GRACE_MS);
    grace.unref();
    this.#timers[slot] = grace;
  }
}
