/**
 * The run() tasks that wait for a slot, oldest first: when every arena slot
 * is taken, TaskTable.add() parks the task here, and TaskTable.pump() moves
 * it into the next slot freed. An entry whose run() settled while it waited
 * (its signal aborted) is marked `done` and skipped, not searched for and
 * removed: the queue is an array with a moving head, compacted now and then.
 *
 * A task here holds no slot, so no thread can have taken it and nothing races its settling:
 * its signal aborting, close({ force: true }) and destroy() settle it here, at once, through
 * the task table's one place where a run() settles (main/tasks.ts T1). Its signal is watched
 * (signals.ts) from push() until it leaves the queue.
 */
import type { TransferListItem } from 'node:worker_threads';
import { AbortError } from '../errors.js';
import type { SignalWatch } from './signals.js';
import type { TaskExtras } from './task-extras.js';

/** A run() waiting here, with everything its submission needs. */
export interface Backlogged {
  readonly task: unknown;
  readonly extras: TaskExtras | undefined;
  /** Its handler's index (pool/layout.ts NAMES; 0: the default). */
  readonly handler: number;
  readonly signal: AbortSignal | undefined;
  readonly transferList: readonly TransferListItem[] | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** Its run() settled, or it left for a slot: skipped from now on. */
  done: boolean;
}

/** Below this many consumed entries the array is not compacted (a splice costs more than it saves). */
const COMPACT_AFTER = 4096;

/** How an entry's run() rejects: the task table's one place where a run() settles (T1). */
export type RejectEntry = (entry: Backlogged, error: unknown) => void;

export class Backlog {
  readonly #entries: (Backlogged | undefined)[] = [];
  #head = 0;
  readonly #signals: SignalWatch;
  readonly #reject: RejectEntry;

  constructor(signals: SignalWatch, reject: RejectEntry) {
    this.#signals = signals;
    this.#reject = reject;
  }

  /** Entries waiting (settled ones among them until they are reached). */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  get empty(): boolean {
    return this.#head === this.#entries.length;
  }

  /** Parks `entry`; its signal, if any (not aborted: the caller checked), is watched, keyed by the entry. */
  push(entry: Backlogged): void {
    if (entry.signal !== undefined) this.#signals.add(entry.signal, entry);
    this.#entries.push(entry);
  }

  /** The oldest entry still waiting, taken off the queue (marked done, its signal no longer watched), or undefined. */
  shift(): Backlogged | undefined {
    const entries = this.#entries;
    while (this.#head < entries.length) {
      const entry = entries[this.#head]!;
      entries[this.#head++] = undefined;
      if (entry.done) continue;
      entry.done = true;
      if (entry.signal !== undefined) this.#signals.remove(entry.signal, entry);
      return entry;
    }
    return undefined;
  }

  /** Gives back memory of the entries taken: all of it once the queue is empty, else in large steps. */
  compact(): void {
    const entries = this.#entries;
    if (this.#head === entries.length) {
      entries.length = 0;
      this.#head = 0;
    } else if (this.#head > COMPACT_AFTER && this.#head * 2 > entries.length) {
      entries.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** The signal of `entry` aborted: its run() rejects with an AbortError, and the queue skips it. */
  abort(entry: Backlogged, signal: AbortSignal): void {
    if (entry.done) return;
    entry.done = true; // the queue skips it
    this.#reject(entry, new AbortError(signal.reason));
  }

  /** Rejects every entry still waiting with `makeError()`, oldest first, and empties the queue; returns how many. */
  rejectAll(makeError: () => Error): number {
    const taken: Backlogged[] = [];
    for (let entry = this.shift(); entry !== undefined; entry = this.shift()) taken.push(entry);
    this.compact();
    for (const entry of taken) this.#reject(entry, makeError());
    return taken.length;
  }
}
