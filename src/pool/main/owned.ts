/**
 * What becomes of the tasks a pool thread held when it is gone (pool/layout.ts
 * A6). A thread that dies — however it dies, at whatever instruction — leaves
 * every task it took findable in shared memory: the slots that name it in
 * T_OWNER, and the one packet the port says it took last (releaseThread's
 * lastTaken) if it died between the take and its claim. Of those:
 *  - QUEUED or CANCELLED: it never ran. Its packet goes back to the port for
 *    another thread (QUEUED: it runs there; CANCELLED: that thread
 *    acknowledges it, which frees the slot).
 *  - RUNNING: it started, so it may have done part of its work: its run()
 *    rejects (never runs twice). A task settled by its timeout only frees
 *    its slot.
 *  - DONE + status: it finished, and the thread died before or after its
 *    result packet was posted: the packet that delivers it is made here, for
 *    the result drain; if the thread did post it, that one is stale (A7).
 */
import type { CompletionPacket } from '../../port/index.js';
import { CANCELLED, DONE, K_TASK, QUEUED, RUNNING, slotWord, T_OWNER, T_STATE, T_TICKET } from '../layout.js';

/** What this needs of the task table (main/tasks.ts TaskTable). */
export interface OwnedSlots {
  readonly slots: number;
  readonly slotBytes: number;
  readonly arena: { readonly i32: Int32Array };
  waiting(slot: number): boolean;
  orphaned(slot: number): boolean;
  settle(slot: number, ok: boolean, value: unknown): void;
  discard(slot: number): void;
  release(slot: number): void;
  repost(slot: number, ticket: number): boolean;
}

/**
 * Thread `owner` is gone: settles or hands on every task it held (see above). Returns how many
 * run() calls were rejected, and the packets to deliver through the result drain.
 */
export function settleOwned(
  table: OwnedSlots,
  owner: number,
  lastTaken: readonly CompletionPacket[],
  makeError: () => Error,
): { failed: number; done: CompletionPacket[] } {
  const i32 = table.arena.i32;
  for (const packet of lastTaken) adopt(table, owner, packet);
  let failed = 0;
  const done: CompletionPacket[] = [];
  for (let slot = 0; slot < table.slots; slot++) {
    const w = slotWord(table.slotBytes, slot);
    if (Atomics.load(i32, w + T_OWNER) !== owner) continue;
    const state = Atomics.load(i32, w + T_STATE);
    if (state === QUEUED || state === CANCELLED) {
      i32[w + T_OWNER] = 0;
      if (table.repost(slot, i32[w + T_TICKET]!)) continue;
      // The port is closed (destroy: rejectAll settles the slot), or full, which its capacity
      // excludes: settle it rather than leave it pending.
      if (!table.waiting(slot)) continue;
      failed++;
      table.settle(slot, false, makeError());
    } else if (state >= DONE) {
      done.push({ bytesTransferred: state - DONE, completionKey: i32[w + T_TICKET]!, overlapped: slot });
    } else if (state === RUNNING) {
      // What the slot still holds in the heap (a task the thread had not read, a result it had
      // written) is this thread's to free now.
      if (table.waiting(slot)) {
        table.discard(slot);
        failed++;
        table.settle(slot, false, makeError());
      } else if (table.orphaned(slot)) {
        // Settled by its timeout; its result will never come now.
        table.discard(slot);
        table.release(slot);
      }
    }
  }
  return { failed, done };
}

/**
 * A task packet the port says thread `owner` took last: if its slot still holds that task, not
 * started, and no other thread named itself in it, the task is the dead thread's (it died
 * between its take and its claim). A4: the index is checked first.
 */
function adopt(table: OwnedSlots, owner: number, packet: CompletionPacket): void {
  if (packet.bytesTransferred !== K_TASK) return;
  const slot = packet.overlapped;
  if (slot >>> 0 !== slot || slot >= table.slots) return;
  const i32 = table.arena.i32;
  const w = slotWord(table.slotBytes, slot);
  if (i32[w + T_TICKET] !== packet.completionKey) return; // that task settled; the slot holds another
  const state = Atomics.load(i32, w + T_STATE);
  if (state !== QUEUED && state !== CANCELLED) return; // claimed: T_OWNER says by whom
  if (Atomics.load(i32, w + T_OWNER) === 0) i32[w + T_OWNER] = owner;
}
