/**
 * Shared-memory layout of a ThreadPool's task arena.
 *
 * The arena is the pool's own SharedArrayBuffer (the completion ports have
 * theirs, which the pool never touches: it only calls their public methods,
 * so it runs unchanged on the native backend). A `run()` task lives in one
 * arena slot from submission until its result has been read back; the
 * packets on the ports only carry the slot's index.
 *
 * ```
 *  byte offset             Int32 word         meaning
 *  ──────────────────────────────────────────────────────────────────────────
 *  0   HEADER (64 B)       A_MAGIC       0    0x4C4F4F50 ("POOL")
 *                          A_SLOTS       1    number of task slots
 *                          A_SLOT_BYTES  2    bytes per slot (multiple of 64)
 *                          A_RESULTS     3    results posted so far (wraps): the main
 *                                             thread spins on it instead of on the port lock
 *                          A_LIVE        4    threads alive (workers decrement it to retire)
 *                          A_MIN         5    minThreads: a worker may retire only above it
 *                          A_SENTINELS   6    sentinels taken so far (close accounting)
 *                          A_REQUESTS    7    queueRequest packets handled (completed + failed)
 *                          A_STARTED     8    run() tasks taken to RUNNING (wraps): maxQueue accounting
 *                          A_REQ_POSTED  9    queueRequest packets posted, by any thread (wraps)
 *                          A_REQ_TAKEN  10    queueRequest packets taken by a thread (wraps):
 *                                             posted − taken is the request queue, held to queueCapacity
 *                          A_INFLIGHT   11    run() slots in use (written by the main thread alone, a hint
 *                                             for the threads' spin: more than the threads = pipe full)
 *                          A_SPIN       12    1: threads spin before sleeping when few tasks are in flight;
 *                                             0: they sleep at once (chosen by the main thread, see main/spin-policy.ts)
 *                          A_WAKE       13    1: the main thread sleeps (Atomics.waitAsync) on A_RESULTS: the thread
 *                                             that next adds to A_RESULTS swaps it to 0 and notifies (invariant A8)
 *  64  SLOTS               slot i at byte 64 + i·slotBytes:
 *                            word +0  T_STATE   FREE | QUEUED | RUNNING | CANCELLED | DONE + status (the result
 *                                               packet's status, R_OK … R_CANCELLED: written before that packet is posted)
 *                            word +1  T_OWNER   id of the worker that took its packet (0: none named yet; RUNNING or
 *                                               DONE: the one that runs or ran it)
 *                            word +2  T_TAG     value tag of the payload (codec/slot-views.ts 0-7; codec/slot-decode.ts: kinds 8-11,
 *                                               | TAG_HEAP 16, | TAG_JSON 32; 64 TAG_CONSUMED: read, block freed)
 *                            word +3  T_LEN     payload length in bytes (or UTF-16 units); of a heap block's payload too
 *                            word +4  T_FLAGS   bits 0-15: F_SIGNAL (run() had a signal), F_TIMED (sample timing),
 *                                               F_PROGRESS (onProgress: the running thread clears it before the
 *                                               result when the task sent no progress, so none is awaited), F_TIMEOUT (timeout);
 *                                               bits 16-31: the handler's index in NAMES (0: the default handler)
 *                            word +5  T_TICKET  which submission the slot holds (wraps): names the task in its packets and
 *                                               in abort messages
 *                            f64  +3  T_START   wall-clock ms the handler started (F_TIMED: written at the end;
 *                                               F_TIMEOUT: at the start, 0 until then — the main thread zeroes it)
 *                            f64  +4  T_RUN     ms the handler ran (F_TIMED)
 *                            byte +40 .. slotBytes  payload: task, then the result, in place; a payload in the shared
 *                                               heap (TAG_HEAP) leaves its block's reference here instead:
 *                            word +10 P_SEG     segment index | generation << 16 (heap/layout.ts)
 *                            word +11 P_OFF     byte offset of the block in its segment
 *                            word +12 P_TYPE    view type of a typed array (TAG_BYTES, TAG_VIEW)
 *  NAMES (after the slots)  the handler names run() has used, by index (1 … MAX_NAMES):
 *                            Int32 N_ENTRIES + 2·(k − 1)  the offset (in UTF-16 units) of name k
 *                            Int32 N_ENTRIES + 2·(k − 1) + 1  its length
 *                            Uint16 from byte namesChars  the names' characters, one after another
 * ```
 *
 * Invariants:
 *  A1  Only the main thread allocates and frees slots (a free stack in its
 *      own memory); a slot is FREE in shared memory iff it is on that stack.
 *  A2  QUEUED → RUNNING (worker, CAS) and QUEUED → CANCELLED (main, CAS) race
 *      on the same word: exactly one wins. A worker that loses sees
 *      CANCELLED, does not run the task, marks it DONE + R_CANCELLED and
 *      posts an acknowledgement, so the slot is freed only once no packet
 *      names it any more.
 *  A3  The payload area belongs to the main thread while the slot is QUEUED
 *      (before the post) and after the result packet was taken (or the worker's
 *      exit, A6); to the worker between its CAS to RUNNING and its post of the
 *      result packet. The
 *      port orders those writes: a post happens-before the get that returns
 *      its packet (the ring's sequentially consistent CASes on the cell). So
 *      does a heap block the payload names: whoever owns the slot may free it
 *      (decode() does, marking TAG_CONSUMED first); a slot nobody will read
 *      (cancelled, a late result, a dead thread's) is discard()ed by the main
 *      thread, which alone owns it then.
 *  A4  Every slot index read from a packet is checked against A_SLOTS before use.
 *  A5  A name's entry and characters are written once, by the main thread, before any task
 *      that names it is posted (the post happens-before the get that returns the packet), and
 *      never change. A thread reads an entry only for an index a task carries, and checks the
 *      index against MAX_NAMES and the entry against the characters' area before use.
 *  A6  A task taken by a thread is that thread's from the take until its result packet is
 *      posted, and its death at any instruction of that span leaves it findable in shared
 *      memory: the port names the packet in the thread's claim record from the take on
 *      (releaseThread's lastTaken; portable backend), the thread names itself in T_OWNER
 *      before its claim and before it holds a packet across a turn of its event loop, and it
 *      writes DONE + status after the result and before the result packet. When a thread dies,
 *      the main thread (pool/main/tasks.ts failOwned) takes every task that names it — by
 *      T_OWNER, or by lastTaken when the slot still holds that packet's ticket and no other
 *      thread named itself — and: QUEUED or CANCELLED (never started) → re-posts its packet,
 *      once; RUNNING → rejects it with WorkerDiedError, never runs it again; DONE + status →
 *      delivers the result the slot holds (or the acknowledgement), as its packet would have.
 *  A7  Every packet names its task by ticket: (K_TASK, ticket, slot) on the task port,
 *      (status, ticket, slot) on the result port. A result packet whose ticket is not the
 *      slot's, or whose slot is FREE, is one A6 already delivered (its thread posted it and
 *      died before the main thread read it): it is dropped. Results already queued are read
 *      before a death is handled, so only the one a pending wait was handed can be stale: the
 *      result port holds at most slots + 1 packets.
 *  A8  No result is left unseen beside a sleeping main thread: a thread posts its result packet,
 *      then adds to A_RESULTS, then reads A_WAKE; the main thread stores A_WAKE = 1, then reads
 *      A_RESULTS, and sleeps only on the value it read (all sequentially consistent), so either
 *      it sees the new count or the poster sees A_WAKE and notifies. The main thread never
 *      waits on the result port itself: a post there never takes the port's lock.
 */

import { PAYLOAD, T_LEN, T_TAG } from '../codec/slot-record.js';

export { PAYLOAD, T_LEN, T_TAG };

export const ARENA_MAGIC = 0x4c4f4f50;
export const HEADER_BYTES = 64;

export const A_MAGIC = 0;
export const A_SLOTS = 1;
export const A_SLOT_BYTES = 2;
export const A_RESULTS = 3;
export const A_LIVE = 4;
export const A_MIN = 5;
export const A_SENTINELS = 6;
export const A_REQUESTS = 7;
export const A_STARTED = 8;
export const A_REQ_POSTED = 9;
export const A_REQ_TAKEN = 10;
export const A_INFLIGHT = 11;
export const A_SPIN = 12;
export const A_WAKE = 13;

// Slot words (Int32 offsets from the slot's first word).
export const T_STATE = 0;
export const T_OWNER = 1;
// T_TAG and T_LEN (words 2 and 3) and PAYLOAD are the codec's record (codec/slot-record.ts).
export const T_FLAGS = 4;
export const T_TICKET = 5;
// Slot float64s (Float64 offsets from the slot's first float64).
export const T_START = 3;
export const T_RUN = 4;

// T_STATE values.
export const FREE = 0;
export const QUEUED = 1;
export const RUNNING = 2;
export const CANCELLED = 4;
/** DONE + status (R_OK … R_CANCELLED): the result (or the acknowledgement) is written, its packet about to be posted (A6). */
export const DONE = 8;

// T_FLAGS bits.
export const F_SIGNAL = 1;
export const F_TIMED = 2;
/** run() had onProgress: the handler's context gets progress(), whose values go on the thread's result channel. */
export const F_PROGRESS = 4;
/** run() had a timeout: the thread writes T_START when the handler starts (the main thread counts from it). */
export const F_TIMEOUT = 8;
/** T_FLAGS >>> HANDLER_SHIFT: the task's handler index in NAMES (0: the default handler). */
export const HANDLER_SHIFT = 16;

/** Distinct handler names a pool can use (run()'s `name` option). */
export const MAX_NAMES = 256;
/** Longest handler name, in UTF-16 units. */
export const MAX_NAME_LENGTH = 256;
/** Longest entry of NAMES: a handler name, or the key of another module's handler (names.ts otherModuleKey). */
export const MAX_KEY_LENGTH = 2048;
/** The characters' area of NAMES, in UTF-16 units. */
const NAME_CHARS = 16_384;

/**
 * Task-port packets (bytesTransferred, completionKey, overlapped):
 *   (K_REQUEST, wParam, 0)   queueRequest(wParam) — CThreadPools::QueueRequest
 *   (K_REQUEST, 0, -1)       sentinel: the thread exits — CThreadPools::Close
 *   (K_TASK, ticket, slot)   run(): the task with T_TICKET `ticket` is in arena slot `slot` (A7)
 */
export const K_REQUEST = 0;
export const K_TASK = 1;
export const SENTINEL = -1;

/**
 * Result-port packets (status, ticket, slot) (A7). The slot's T_OWNER names the
 * thread whose MessagePort a fallback result (or progress) was sent through.
 */
export const R_OK = 0; // result in the slot
export const R_ERROR = 1; // serialized error in the slot
export const R_OK_MESSAGE = 2; // result sent on the worker's result MessagePort
export const R_ERROR_MESSAGE = 3; // error sent on the worker's result MessagePort
export const R_CANCELLED = 4; // the worker found the slot CANCELLED and did not run it

export interface ArenaGeometry {
  slots: number;
  slotBytes: number;
  /** Int32 index of name 1's entry (NAMES). */
  nameEntries: number;
  /** Uint16 index of the names' characters, and how many fit. */
  nameChars: number;
  nameCharCapacity: number;
  byteLength: number;
}

/**
 * The largest arena: every offset into it is an Int32 (`>> 2`, `>> 1` make word indices), so it
 * must stay below 2^31 bytes.
 */
export const MAX_ARENA_BYTES = 2 ** 31 - 64;

export function arenaGeometry(slots: number, slotBytes: number): ArenaGeometry {
  const bytes = Math.ceil(Math.max(slotBytes, PAYLOAD + 24) / 64) * 64;
  const namesAt = HEADER_BYTES + slots * bytes;
  const charsAt = namesAt + MAX_NAMES * 8;
  return {
    slots,
    slotBytes: bytes,
    nameEntries: namesAt >> 2,
    nameChars: charsAt >> 1,
    nameCharCapacity: NAME_CHARS,
    byteLength: charsAt + NAME_CHARS * 2,
  };
}

/** First Int32 word of slot i. */
export function slotWord(slotBytes: number, slot: number): number {
  return (HEADER_BYTES + slot * slotBytes) >> 2;
}
