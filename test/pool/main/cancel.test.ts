import { describe, expect, it } from 'vitest';
import { AbortError } from '../../../src/pool/errors.js';
import { CANCELLED, DONE, QUEUED, RUNNING, slotWord, T_OWNER, T_STATE, T_TICKET } from '../../../src/pool/layout.js';
import { abortSlot, type CancellableSlots, cancelQueuedSlots } from '../../../src/pool/main/cancel.js';

const SLOT_BYTES = 256;
const SLOTS = 4;

/** A task table of SLOTS slots in a plain buffer: records what settles through cancelled(). */
function table(states: number[], waiting = states.map(() => true)) {
  const words = slotWord(SLOT_BYTES, SLOTS) + SLOT_BYTES / 4;
  const i32 = new Int32Array(new SharedArrayBuffer(words * 4));
  states.forEach((state, slot) => {
    const w = slotWord(SLOT_BYTES, slot);
    i32[w + T_STATE] = state;
    i32[w + T_OWNER] = 10 + slot;
    i32[w + T_TICKET] = 100 + slot;
  });
  const settled: { slot: number; error: unknown }[] = [];
  const slots: CancellableSlots = {
    slots: SLOTS,
    slotBytes: SLOT_BYTES,
    arena: { i32 },
    waiting: (slot) => waiting[slot]!,
    cancelled: (slot, error) => settled.push({ slot, error }),
  };
  const state = (slot: number): number => i32[slotWord(SLOT_BYTES, slot) + T_STATE]!;
  return { slots, settled, state };
}

describe('cancel.ts (a queued task cancelled: the A2 race, as the main thread makes it)', () => {
  it('an abort wins over a queued task: CANCELLED, settled at once with an AbortError carrying the reason', () => {
    const { slots, settled, state } = table([QUEUED, QUEUED, QUEUED, QUEUED]);
    const aborts: unknown[] = [];
    const controller = new AbortController();
    controller.abort('why');
    abortSlot(slots, { abort: (...args) => aborts.push(args) }, 2, controller.signal);
    expect(state(2)).toBe(CANCELLED);
    expect(state(1)).toBe(QUEUED);
    expect(settled).toHaveLength(1);
    expect(settled[0]!.slot).toBe(2);
    expect(settled[0]!.error).toBeInstanceOf(AbortError);
    expect((settled[0]!.error as AbortError).cause).toBe('why');
    expect(aborts).toEqual([]);
  });

  it('an abort of a running task goes to its thread, naming the task by its ticket; the slot is left as it is', () => {
    const { slots, settled, state } = table([QUEUED, RUNNING, QUEUED, QUEUED]);
    const aborts: unknown[] = [];
    abortSlot(slots, { abort: (...args) => aborts.push(args) }, 1, AbortSignal.abort());
    expect(state(1)).toBe(RUNNING);
    expect(settled).toEqual([]);
    expect(aborts).toEqual([[11, 1, 101, false]]);
  });

  it('an abort changes nothing for a task already done, or one whose run() no longer waits', () => {
    const { slots, settled, state } = table([DONE, QUEUED, QUEUED, QUEUED], [true, false, true, true]);
    const aborts: unknown[] = [];
    const threads = { abort: (...args: unknown[]) => aborts.push(args) };
    abortSlot(slots, threads, 0, AbortSignal.abort());
    abortSlot(slots, threads, 1, AbortSignal.abort());
    expect([state(0), state(1)]).toEqual([DONE, QUEUED]);
    expect(settled).toEqual([]);
    expect(aborts).toEqual([]);
  });

  it('close({ force }) cancels exactly the queued tasks whose run() waits, and counts them', () => {
    const { slots, settled, state } = table([QUEUED, RUNNING, QUEUED, QUEUED], [true, true, true, false]);
    const errors: Error[] = [];
    const n = cancelQueuedSlots(slots, () => {
      const error = new Error('forced');
      errors.push(error);
      return error;
    });
    expect(n).toBe(2);
    expect(settled.map((s) => s.slot)).toEqual([0, 2]);
    expect(settled.map((s) => s.error)).toEqual(errors);
    expect([state(0), state(1), state(2), state(3)]).toEqual([CANCELLED, RUNNING, CANCELLED, QUEUED]);
  });
});
