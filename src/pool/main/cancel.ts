/**
 * Tasks cancelled before they start: a run() whose AbortSignal aborts, and close({ force: true }).
 * A task in a slot may be taken by a thread at any moment, so cancelling it is a race with that
 * thread, decided in shared memory (pool/layout.ts A2): the main thread's CAS QUEUED → CANCELLED
 * against the worker's QUEUED → RUNNING, one wins. Won here: the task never runs, its run()
 * settles now, and its slot stays taken until a thread takes the packet and acknowledges it
 * (main/tasks.ts T2). Lost: the task runs; an abort is passed on to its handler.
 *
 * Apart from main/tasks.ts, which keeps the per-slot state (and the invariants T1, T2): nothing
 * here is on a task's common path. Tasks still in the backlog hold no slot and race nobody: the
 * task table settles them itself.
 */
import { CANCELLED, QUEUED, RUNNING, slotWord, T_OWNER, T_STATE, T_TICKET } from '../layout.js';
import { AbortError } from '../errors.js';

/** What this needs of the task table (main/tasks.ts TaskTable). */
export interface CancellableSlots {
  readonly slots: number;
  readonly slotBytes: number;
  readonly arena: { readonly i32: Int32Array };
  /** The run() in `slot` still waits for its result. */
  waiting(slot: number): boolean;
  /** A2 was won for the task in `slot`: its run() settles now with `error` (counted as never started). */
  cancelled(slot: number, error: unknown): void;
}

/** What an abort asks of the pool's threads: tell thread `owner` that the task with `ticket` in `slot` aborted. */
export interface AbortThreads {
  abort(owner: number, slot: number, ticket: number, timeout: boolean): void;
}

/** `signal`, the signal of the task in `slot`, aborted. A2: one CAS against the worker's QUEUED → RUNNING. */
export function abortSlot(table: CancellableSlots, threads: AbortThreads, slot: number, signal: AbortSignal): void {
  if (!table.waiting(slot)) return;
  const i32 = table.arena.i32;
  const w = slotWord(table.slotBytes, slot);
  if (Atomics.compareExchange(i32, w + T_STATE, QUEUED, CANCELLED) === QUEUED) {
    // Never ran and never will: it settles now; the slot is freed when a thread acknowledges the packet.
    table.cancelled(slot, new AbortError(signal.reason));
    return;
  }
  if (Atomics.load(i32, w + T_STATE) === RUNNING) {
    // Running: the handler sees its signal abort; run() settles with what the handler does.
    // The ticket names this task: by the time the message arrives the slot may hold another.
    threads.abort(i32[w + T_OWNER]!, slot, i32[w + T_TICKET]!, false);
  }
}

/**
 * close({ force: true }), for the tasks in slots: settles every one still queued with
 * `makeError()` (A2: the CAS an abort makes). Running tasks are left to finish. Returns how many.
 */
export function cancelQueuedSlots(table: CancellableSlots, makeError: () => Error): number {
  const i32 = table.arena.i32;
  let cancelled = 0;
  for (let slot = 0; slot < table.slots; slot++) {
    if (!table.waiting(slot)) continue;
    if (Atomics.compareExchange(i32, slotWord(table.slotBytes, slot) + T_STATE, QUEUED, CANCELLED) !== QUEUED) continue;
    table.cancelled(slot, makeError());
    cancelled++;
  }
  return cancelled;
}
