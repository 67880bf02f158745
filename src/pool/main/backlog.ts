/**
 * The run() tasks that wait for a slot, oldest first: when every arena slot
 * is taken, TaskTable.add() parks the task here, and TaskTable.pump() moves
 * it into the next slot freed. An entry whose run() settled while it waited
 * (its signal aborted) is marked `done` and skipped, not searched for and
 * removed: the queue is an array with a moving head, compacted now and then.
 */
import type { TransferListItem } from 'node:worker_threads';
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

export class Backlog {
  readonly #entries: (Backlogged | undefined)[] = [];
  #head = 0;

  /** Entries waiting (settled ones among them until they are reached). */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  get empty(): boolean {
    return this.#head === this.#entries.length;
  }

  push(entry: Backlogged): void {
    this.#entries.push(entry);
  }

  /** The oldest entry still waiting, taken off the queue (marked done), or undefined. */
  shift(): Backlogged | undefined {
    const entries = this.#entries;
    while (this.#head < entries.length) {
      const entry = entries[this.#head]!;
      entries[this.#head++] = undefined;
      if (entry.done) continue;
      entry.done = true;
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

  /** Takes every entry still waiting (marked done), oldest first, and empties the queue. */
  takeAll(): Backlogged[] {
    const out: Backlogged[] = [];
    for (let entry = this.shift(); entry !== undefined; entry = this.shift()) out.push(entry);
    this.compact();
    return out;
  }
}
