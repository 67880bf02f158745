/**
 * Tasks whose payload travels by MessagePort, kept here by slot until the
 * thread that took the task asks for it ('fetch', main/threads.ts): a task
 * too large for the shared heap (the codec's own encoding of it crosses:
 * codec/carried.ts), one with a transferList (the value itself, its buffers
 * moved), and a value the codec refuses but postMessage can clone (a Blob, a
 * KeyObject…). A value neither can clone (a function…) is refused here, as
 * postMessage would refuse it, in the caller's turn.
 *
 * write() is on every task's path: it asks the codec first, and only what the codec cannot
 * take (or refuses) is kept here — the one try/catch a task costs is around that call.
 */
import type { TransferListItem } from 'node:worker_threads';
import { type Carried, transferOf } from '../../codec/carried.js';
import { cloneError } from '../../codec/error-record.js';
import type { SlotCodec } from '../../codec/slot-codec.js';
import { TAG_FALLBACK } from '../../codec/slot-views.js';
import { T_TAG } from '../layout.js';

/** A payload that travels by MessagePort: what the codec's carried() gave, and what to transfer with it. */
export interface FallbackPayload {
  task: Carried;
  transferList: readonly TransferListItem[] | undefined;
}

/** Why postMessage cannot clone `value` (its own error), or undefined when it can. Only on the error path: it clones. */
function messageCloneError(value: unknown): unknown {
  try {
    structuredClone(value);
    return undefined;
  } catch (error) {
    return error;
  }
}

export class FallbackPayloads {
  readonly #arena: SlotCodec;
  readonly #bySlot = new Map<number, FallbackPayload>();

  constructor(arena: SlotCodec) {
    this.#arena = arena;
  }

  /**
   * Writes the task of `slot` (slot word `w`): into the slot or a heap block — the common path —
   * else, when neither can take it (TAG_FALLBACK), it has a transferList, or the codec refuses it,
   * keeps it to travel by message and tags the slot TAG_FALLBACK. Returns the error the run()
   * rejects with when it cannot travel at all (the slot is not tagged), else undefined.
   */
  write(slot: number, w: number, task: unknown, transferList: readonly TransferListItem[] | undefined): unknown {
    let refusal: { error: unknown } | undefined;
    if (transferList === undefined) {
      try {
        if (this.#arena.encode(w, task) !== TAG_FALLBACK) return undefined;
      } catch (error) {
        refusal = { error };
      }
    }
    const error = this.#keep(slot, task, transferList, refusal);
    if (error === undefined) this.#arena.i32[w + T_TAG] = TAG_FALLBACK;
    return error;
  }

  /**
   * Keeps the task of `slot` to send by message: `refusal` is what the codec threw for it, if it
   * refused it; undefined when it answered TAG_FALLBACK (or was not asked: a transferList).
   * Returns the error the run() rejects with when the task cannot travel at all, else undefined.
   */
  #keep(slot: number, task: unknown, transferList: readonly TransferListItem[] | undefined, refusal: { error: unknown } | undefined): unknown {
    let carried: Carried = { value: task };
    if (refusal !== undefined) {
      const why = this.#arena.serialization === 'json' ? refusal.error : messageCloneError(task);
      if (why !== undefined) return cloneError("run()'s task (its first argument)", why);
    } else if (transferList === undefined) {
      carried = this.#arena.carried(task);
    }
    // The codec's own encoding (a copy of its own) moves instead of being cloned again.
    this.#bySlot.set(slot, { task: carried, transferList: transferOf(carried) ?? transferList });
    return undefined;
  }

  /** The payload of the task in `slot`, once (its thread fetched it). */
  take(slot: number): FallbackPayload | undefined {
    const payload = this.#bySlot.get(slot);
    this.#bySlot.delete(slot);
    return payload;
  }

  /** The slot is freed: forget its payload if it was never fetched. */
  forget(slot: number): void {
    if (this.#bySlot.size !== 0) this.#bySlot.delete(slot);
  }
}
