/**
 * What a pool thread's exit means: the reason it is reported with ('threadExit'), and — when it
 * died (process.exit, an uncaught error, resource limits, a timeout) — what becomes of it: the
 * tasks it held are settled or handed on (pool/layout.ts A6, owned.ts), it is replaced, and its
 * death is reported when no run() carried the news. Unless the module kills every thread it
 * runs in: replacing such threads forever would be a spawn loop, so the pool fails instead.
 *
 * Apart from lifecycle.ts, which decides the pool's state (open, closing, destroyed, failed)
 * and hears every exit first: a death is one exit among others, with the most to do.
 */
import type { CompletionPacket } from '../../port/index.js';
import { WorkerDiedError, WorkerLoadError } from '../errors.js';
import { EXIT_PORT_CLOSED, EXIT_RECYCLED, EXIT_RETIRED, EXIT_SENTINEL } from '../protocol.js';
import type { ThreadExitReason } from '../types.js';
import type { KeepAlive } from './keep-alive.js';
import type { ResultDrain } from './results.js';
import type { TaskTable } from './tasks.js';
import type { WorkerRecord } from './worker-record.js';

/** A thread that dies idle within this long of starting is an early death (ms)… */
const EARLY_DEATH_MS = 1000;
/** …and this many in a row mean the module kills every thread: the pool fails instead of respawning. */
const EARLY_DEATHS = 3;

/** Why a thread left, from its exit code and what the pool knew of it (`destroyed`: the pool was destroyed). */
export function exitReason(record: WorkerRecord, code: number, destroyed: boolean): ThreadExitReason {
  if (record.timedOut) return 'timeout';
  if (record.terminating) return destroyed ? 'destroy' : 'stopped';
  switch (code) {
    case EXIT_SENTINEL:
      return 'close';
    case EXIT_RETIRED:
      return 'idle';
    case EXIT_RECYCLED:
      return 'recycle';
    case EXIT_PORT_CLOSED:
      return 'destroy';
    default:
      return 'died';
  }
}

/** What a death needs of the pool: its parts, and what only the lifecycle decides. */
export interface DeathHost {
  readonly filename: string;
  readonly tasks: TaskTable;
  readonly results: ResultDrain;
  readonly keepAlive: KeepAlive;
  /** The pool was destroyed or has failed: a death changes nothing more. */
  stopped(): boolean;
  /** The module cannot be used: the pool fails with `error`. */
  fail(error: WorkerLoadError): void;
  /** Starts a thread in the dead one's place if the pool may; whether it did. */
  replace(): boolean;
  /** Slots were freed: move the backlog in. */
  pump(): void;
  /** To the 'error' listeners, or a process warning with `code`. */
  report(error: Error, code: string): void;
}

export class Deaths {
  readonly #host: DeathHost;
  /** Threads in a row that died idle right after starting (see EARLY_DEATHS). */
  #earlyDeaths = 0;

  constructor(host: DeathHost) {
    this.#host = host;
  }

  /** Thread `record` died with `code`; `lastTaken`: the packet the task port says it took last (A6). Fail what it held, replace it — unless it cannot work. */
  died(record: WorkerRecord, code: number, lastTaken: readonly CompletionPacket[]): void {
    const host = this.#host;
    const cause = record.error;
    if (!record.loaded) {
      // Died while loading the module (process.exit or a crash at top level): replacing it would loop forever.
      const why = cause !== undefined ? `${(cause as Error)?.message ?? String(cause)}` : `it called process.exit(${code})`;
      host.fail(new WorkerLoadError(`worker module ${host.filename} failed to load: ${why}`, cause));
      return;
    }
    if (host.stopped()) return;
    const why = record.timedOut
      ? 'being stopped: a task on it ran past its timeout'
      : cause !== undefined
        ? `an uncaught error (${(cause as Error)?.message ?? String(cause)})`
        : `process.exit(${code})`;
    // Results already posted are read first, so that of its tasks only those whose result never
    // reached the port are delivered from their slot (pool/layout.ts A7).
    host.results.takeQueued();
    // Its tasks (A6): those it never started go to another thread, those it started fail with
    // the cause, those it finished are delivered; nobody else's are touched.
    const { failed, done } = host.tasks.failOwned(
      record.id,
      lastTaken,
      () => new WorkerDiedError(`the pool thread running this task died of ${why}`, cause, code),
    );
    for (const packet of done) host.results.complete(packet);
    if (host.tasks.inflight === 0) {
      host.results.wake();
      host.keepAlive.armIdle();
    }
    host.pump();
    if (!record.timedOut && !record.working && performance.now() - record.readyAt < EARLY_DEATH_MS) {
      // Died right after it started, before it took any packet: a module that kills every thread
      // it runs in (a timer that throws at load…). Replacing such threads forever would be a spawn
      // loop. A thread that took work and then died (a handler's timer that throws, process.exit)
      // is replaced, however soon: its death is reported, and the pool goes on.
      if (++this.#earlyDeaths >= EARLY_DEATHS) {
        const message = `worker module ${host.filename} cannot run: ${EARLY_DEATHS} pool threads in a row died of ${why} within ${EARLY_DEATH_MS} ms of starting, so the pool stopped replacing them`;
        host.fail(new WorkerLoadError(message, cause));
        return;
      }
    } else {
      this.#earlyDeaths = 0;
    }
    const replaced = host.replace();
    // No run() carried the news (the thread was idle or in a queueRequest handler): not silently.
    // (A thread stopped for a timeout: the timed-out run() carried it.)
    if (failed === 0 && !record.timedOut) {
      host.report(new WorkerDiedError(`a pool thread died of ${why}${replaced ? ' and was replaced' : ''}`, cause, code), 'IOCP_POOL_WORKER_DIED');
    }
  }
}
