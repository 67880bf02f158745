/**
 * When a pool keeps the process alive: while it has work (like piscina, an
 * idle pool does not). Checked on a timer, not per task, so one-at-a-time
 * run() does not ref and unref the threads each time.
 */
import type { CompletionPort } from '../../port/index.js';
import { requestsQueued } from '../requests.js';

/** How often an idle pool checks whether it may stop keeping the process alive (ms). */
const IDLE_CHECK_MS = 50;

/** What the policy looks at: the arena's request counters, the task port, the tasks, and the threads it refs. */
export interface KeepAliveParts {
  readonly i32: Int32Array;
  readonly taskPort: CompletionPort;
  readonly tasks: { readonly inflight: number; readonly backlogEmpty: boolean };
  readonly threads: { ref(): void; unref(): void };
}

export class KeepAlive {
  /** The threads keep the process alive (new threads start ref'd). */
  refed = true;
  /**
   * The pool may be found idle: its initial threads are ready, or its module failed (set by the
   * lifecycle). Before that an idle check would let a program that only awaits `pool.ready` exit.
   */
  settled = false;
  /** The pool is closing or has ended: no idle checks; it stays ref'd until its threads are gone. */
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #listener: ((refed: boolean) => void) | undefined;
  readonly #parts: KeepAliveParts;

  constructor(parts: KeepAliveParts) {
    this.#parts = parts;
  }

  /** `listener` hears whenever the threads start or stop keeping the process alive. */
  onChange(listener: (refed: boolean) => void): void {
    this.#listener = listener;
  }

  /** Work exists: the threads keep the process alive. */
  refAll(): void {
    this.refed = true;
    this.#parts.threads.ref();
    this.#listener?.(true);
    this.armIdle();
  }

  /** Check (soon, and again until it holds) whether the pool is idle; then the threads stop keeping the process alive. */
  armIdle(): void {
    if (this.#timer !== undefined || !this.refed || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopped) return;
      const { i32, taskPort, tasks, threads } = this.#parts;
      // Requests count as work while queued or running synchronously (a thread holds a running
      // slot); "taken", not "handled", so a thread that died in a handler cannot keep the pool ref'd.
      const requestsIdle = requestsQueued(i32) <= 0 && taskPort.stats().running === 0;
      if (this.settled && tasks.inflight === 0 && tasks.backlogEmpty && requestsIdle) {
        this.refed = false;
        threads.unref();
        this.#listener?.(false);
      } else {
        this.armIdle();
      }
    }, IDLE_CHECK_MS);
    this.#timer.unref();
  }

  /** The pool is closing or ending: stop checking. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
