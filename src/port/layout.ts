/**
 * Shared-memory layout of a portable completion port.
 *
 * One SharedArrayBuffer holds everything. Every thread that attaches to the
 * port (`CompletionPort.from(handle)`) views the same bytes through an
 * Int32Array (control words) and a Float64Array (packet payloads).
 *
 * ```
 *  byte offset                 words (Int32 index)        meaning
 *  ───────────────────────────────────────────────────────────────────────────
 *  0    HEADER (64 B)          H_MAGIC        0           0x50434F49 ("IOCP")
 *                              H_VERSION      1           LAYOUT_VERSION
 *                              H_CAPACITY     2           max packets queued by post()
 *                              H_RING_SIZE    3           physical ring slots = capacity + maxThreads
 *                              H_MAX_THREADS  4           number of thread/waiter slots
 *                              H_CONCURRENCY  5           the cap on running threads (≥ 1)
 *                              H_SPIN         6           default spin iterations before sleeping
 *                              H_BYTE_LENGTH  7           total byteLength (checked by from())
 *  64   STATE (64 B)           S_LOCK        16           mutex: 0 free, 1 held, 2 held + sleepers
 *                              S_CLOSED      17           0 open, 1 closed (written under lock)
 *                              S_HEAD        18           ring index of the oldest queued packet
 *                              S_QUEUED      19           packets in the ring
 *                              S_RUNNING     20           threads that count as running
 *                              S_WAITING     21           depth of the waiter stack
 *                              S_THREADS     22           slots of kind THREAD in use
 *                              S_LOCK_OWNER  23           threadId + 1 of the lock holder, 0 if unknown
 *  128  WAITER STACK           maxThreads words           slot indices; [0] oldest waiter,
 *                                                         [waiting-1] the newest (released first)
 *  ...  SLOTS (64 B each,      per slot i at word base = slotBase + 16·i:
 *       cache-line aligned)      +0 W_STATE      IDLE | WAITING | SLEEPING | HANDED | CLOSED
 *                                +1 W_KIND       FREE | THREAD | EXTRA
 *                                +2 W_OWNER      slot index of the THREAD slot that owns it
 *                                +3 W_THREAD_ID  worker_threads.threadId of the owner
 *                                +4 W_RUNNING    (THREAD slots) running slots this thread holds
 *                                +8..+13         mailbox: 3 float64 (bytes, key, overlapped)
 *  ...  RING (24 B a packet)   Float64 triples (bytesTransferred, completionKey, overlapped)
 * ```
 *
 * Invariants (every one holds whenever S_LOCK is free):
 *
 *  I1  Packets are dequeued in the order they were queued: the ring is FIFO
 *      and only the lock holder moves S_HEAD / S_QUEUED.
 *  I2  If S_QUEUED > 0 and S_WAITING > 0 then S_RUNNING ≥ concurrency.
 *      A queued packet never sits beside an idle waiter that may run; every
 *      operation that lowers S_RUNNING, queues a packet or pushes a waiter
 *      restores I2 before it lets go of the lock (see `dispatch`).
 *  I3  A slot is on the waiter stack iff its W_STATE is WAITING or SLEEPING.
 *      Only the lock holder pushes or pops; the release order is LIFO.
 *  I4  A slot is HANDED only after its mailbox was written, and the release
 *      that handed it already counted its owner as running (S_RUNNING and the
 *      owner's W_RUNNING were incremented together). A woken waiter therefore
 *      always has work and never touches the lock to take it.
 *  I5  S_RUNNING equals the sum of W_RUNNING over THREAD slots.
 *  I6  S_QUEUED ≤ capacity + (packets requeued from dead threads) ≤ RING_SIZE,
 *      because at most one handed-but-unread packet exists per slot.
 *  I7  After S_CLOSED is set, nothing is queued and the waiter stack is empty;
 *      every waiter that was on it has W_STATE = CLOSED.
 *
 * S_LOCK_OWNER lets the owner of a worker that died inside a port call take
 * the lock over (`releaseThread`) instead of waiting on it forever.
 *
 * The only word written outside the lock is W_STATE of a slot that is *not*
 * on the stack, by the thread that owns the slot (WAITING → SLEEPING with a
 * CAS before it sleeps, HANDED/CLOSED → IDLE after it has read its mailbox).
 */

export const MAGIC = 0x50434f49; // "IOCP" little-endian
export const LAYOUT_VERSION = 1;

// Header words.
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_CAPACITY = 2;
export const H_RING_SIZE = 3;
export const H_MAX_THREADS = 4;
export const H_CONCURRENCY = 5;
export const H_SPIN = 6;
export const H_BYTE_LENGTH = 7;

// State words: their own cache line, away from the read-mostly header.
export const S_LOCK = 16;
export const S_CLOSED = 17;
export const S_HEAD = 18;
export const S_QUEUED = 19;
export const S_RUNNING = 20;
export const S_WAITING = 21;
export const S_THREADS = 22;
export const S_LOCK_OWNER = 23;

export const STACK_BASE = 32; // word index of waiter stack entry 0

// Slot fields (word offsets within a 16-word slot).
export const SLOT_WORDS = 16;
export const W_STATE = 0;
export const W_KIND = 1;
export const W_OWNER = 2;
export const W_THREAD_ID = 3;
export const W_RUNNING = 4;
export const W_MAILBOX = 8; // word offset of the 3 mailbox float64s

// W_STATE values.
export const IDLE = 0;
export const WAITING = 1; // on the stack, owner spinning
export const SLEEPING = 2; // on the stack, owner in Atomics.wait / waitAsync
export const HANDED = 3; // popped, mailbox holds a packet for the owner
export const CLOSED = 4; // popped by close(): the owner must throw

// W_KIND values.
export const FREE = 0;
export const THREAD = 1; // one per attached thread: carries W_RUNNING
export const EXTRA = 2; // extra slot for a concurrent getAsync of the same thread

export const PACKET_F64 = 3; // float64s per packet

export interface Geometry {
  capacity: number;
  ringSize: number;
  maxThreads: number;
  /** Int32 index of slot 0. */
  slotBase: number;
  /** Float64 index of ring entry 0. */
  ringBase: number;
  byteLength: number;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export function geometry(capacity: number, maxThreads: number): Geometry {
  const ringSize = capacity + maxThreads;
  const stackEnd = (STACK_BASE + maxThreads) * 4;
  const slotBytes = align(stackEnd, 64);
  const ringBytes = align(slotBytes + maxThreads * SLOT_WORDS * 4, 64);
  const byteLength = ringBytes + ringSize * PACKET_F64 * 8;
  return {
    capacity,
    ringSize,
    maxThreads,
    slotBase: slotBytes / 4,
    ringBase: ringBytes / 8,
    byteLength,
  };
}
