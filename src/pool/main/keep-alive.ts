/**
 * When a pool keeps the process alive: while it has work (like piscina, an
 * idle pool does not). Checked on a timer, not per task, so one-at-a-time
 * run() does not ref and unref the threads each time.
 */
import type { CompletionPort } from '../../port/index.js';
import { requestsQueued } from '../requests.js';
import { type Lifecycle, State } from './lifecycle.js';
import type { TaskTable } from './tasks.js';
import type { ThreadSet } from './threads.js';

/** How often an idle pool checks whether it may stop keeping the process alive (ms). */
const IDLE_CHECK_MS = 50;

export interface KeepAliveParts {
  readonly i32: Int32Array;
  readonly taskPort: CompletionPort;
  readonly tasks: TaskTable;
  readonly threads: ThreadSet;
  readonly life: () => Lifecycle;
}

export class KeepAlive {
  /** The threads keep the process alive (new threads start ref'd). */
  refed = true;
  #timer: NodeJS.Timeout | undefined;
  readonly #parts: KeepAliveParts;

  constructor(parts: KeepAliveParts) {
    this.#parts = parts;
  }

  /** Work exists: the threads keep the process alive. */
  refAll(): void {
    this.refed = true;
    this.#parts.threads.ref();
    this.#parts.life().keepAlive(true);
    this.armIdle();
  }

  /** Check (soon, and again until it holds) whether the pool is idle; then the threads stop keeping the process alive. */
  armIdle(): void {
    if (this.#timer !== undefined || !this.refed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const { i32, taskPort, tasks, threads } = this.#parts;
      const life = this.#parts.life();
      if (life.state !== State.Open) return;
      // Requests count as work while queued or running synchronously (a thread holds a running
      // slot); "taken", not "handled", so a thread that died in a handler cannot keep the pool ref'd.
      const requestsIdle = requestsQueued(i32) <= 0 && taskPort.stats().running === 0;
      if ((life.isReady || life.loadError !== undefined) && tasks.inflight === 0 && tasks.backlogEmpty && requestsIdle) {
        this.refed = false;
        threads.unref();
        life.keepAlive(false);
      } else {
        this.armIdle();
      }
    }, IDLE_CHECK_MS);
    this.#timer.unref();
  }

  /** Stop checking (the pool is ending). */
  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
