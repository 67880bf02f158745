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
 *                              H_RING_SIZE    3           ring cells: the power of two ≥ max(capacity, 2)
 *                              H_MAX_THREADS  4           number of thread/waiter slots
 *                              H_CONCURRENCY  5           the cap on running threads (≥ 1)
 *                              H_SPIN         6           default spin iterations before sleeping
 *                              H_BYTE_LENGTH  7           total byteLength (checked by from())
 *  64   STATE (64 B)           S_LOCK        16           mutex: 0 free, else holder's (threadId + 1) · 2,
 *                                                         | LOCK_CONTENDED (1) if it may have sleepers
 *                              S_CLOSED      17           0 open, 1 closed (written under lock)
 *                              S_FRONT_HEAD  18           FRONT index of the oldest requeued packet
 *                              S_FRONT_COUNT 19           packets in FRONT (requeued by releaseThread)
 *                              S_RUNNING     20           threads that count as running
 *                              S_WAITING     21           depth of the waiter stack
 *                              S_THREADS     22           slots of kind THREAD in use
 *  128  ENQUEUE (64 B)         S_ENQ         32           next ring position to fill   | CLOSED_BIT
 *  192  DEQUEUE (64 B)         S_DEQ         48           next ring position to take   | CLOSED_BIT
 *                              S_VOID        49           VOID cells in the ring (I8)
 *  256  WAITER STACK           maxThreads words           slot indices; [0] oldest waiter,
 *                                                         [waiting-1] the newest (released first)
 *  ...  SLOTS (64 B each,      per slot i at word base = slotBase + 16·i:
 *       cache-line aligned)      +0 W_STATE      IDLE | WAITING | SLEEPING | HANDED | CLOSED
 *                                +1 W_KIND       FREE | THREAD | EXTRA
 *                                +2 W_OWNER      slot index of the THREAD slot that owns it
 *                                +3 W_THREAD_ID  worker_threads.threadId of the owner
 *                                +4 W_RUNNING    (THREAD slots) running slots this thread holds
 *                                +8..+13         mailbox: 3 float64 (bytes, key, overlapped)
 *  ...  RING (32 B a cell,     cell c at word cellBase + 8·c:
 *       ringSize cells)          +0 C_SEQ        the cell's sequence number (below)
 *                                +2..+7          3 float64 (bytesTransferred, completionKey, overlapped)
 *  ...  FRONT (24 B a packet,  maxThreads packets: a small ring of packets handed to a thread
 *       maxThreads packets)    that died before reading them, delivered before the RING's
 * ```
 *
 * The RING is Vyukov's bounded MPMC queue: posters and takers do not take
 * the lock, and each side writes only its own position word (S_ENQ or S_DEQ,
 * each on its own cache line) and the cells. Positions count packets modulo
 * 2^30 (POS_MASK); bit 30 (CLOSED_BIT) of a position word means closed.
 * Cell c = position & (ringSize − 1). For position p in cell c:
 *   C_SEQ = p          the cell is free for the packet at p: a poster may claim it
 *                      by moving S_ENQ from p to p + 1 (CAS), then writes the
 *                      packet and publishes it with C_SEQ = p + 1;
 *   C_SEQ = p + 1      the packet at p is published: a taker may claim it by moving
 *                      S_DEQ from p to p + 1 (CAS), then reads it and frees the
 *                      cell for the next lap with C_SEQ = p + ringSize.
 * Every C_SEQ write is an Atomics.store after the plain payload writes, and
 * every payload read follows an Atomics.load of C_SEQ that saw it: the
 * payload is handed over by that seq-cst pair.
 *
 * Invariants (every one holds whenever S_LOCK is free):
 *
 *  I1  Packets are dequeued in the order they were queued: FRONT first
 *      (oldest), then the RING in position order. Positions are claimed by
 *      CAS one at a time, so no packet overtakes another.
 *  I2  No packet stays queued beside an idle waiter that may run. Whoever
 *      changes one side of "queued > 0 and S_WAITING > 0 and S_RUNNING <
 *      concurrency" re-checks the whole after its change (every Atomics
 *      operation is sequentially consistent, so of two racing changes at
 *      least one sees the other): a poster reads S_WAITING and S_RUNNING
 *      after it publishes, and if a waiter could run it dispatches under the
 *      lock; the lock holder dispatches after it pushes a waiter or lowers
 *      S_RUNNING. A taker that holds a running slot and takes the next packet
 *      keeps its slot (S_RUNNING is unchanged), which only lowers "queued".
 *  I3  A slot is on the waiter stack iff its W_STATE is WAITING or SLEEPING.
 *      Only the lock holder pushes or pops; the release order is LIFO.
 *  I4  A slot is HANDED only after its mailbox was written, and the release
 *      that handed it already counted its owner as running (S_RUNNING and the
 *      owner's W_RUNNING were incremented together). A woken waiter therefore
 *      always has work and never touches the lock to take it.
 *  I5  S_RUNNING equals the sum of W_RUNNING over THREAD slots; both change
 *      only under the lock.
 *  I6  RING: (S_ENQ − S_DEQ) ≤ capacity ≤ ringSize. A poster claims position
 *      p only after seeing the packet at p − capacity taken (for a power-of-
 *      two capacity that is the cell's own C_SEQ = p); S_ENQ only grows
 *      through that CAS and S_DEQ only grows, so the bound holds exactly,
 *      with any number of posters. FRONT: at most one handed-but-unread
 *      packet exists per slot, so S_FRONT_COUNT ≤ maxThreads.
 *  I7  Closing sets CLOSED_BIT in S_ENQ, then in S_DEQ, under the lock; a
 *      poster that sees the S_ENQ bit sets the S_DEQ bit itself before it
 *      throws, so "closed" is one instant (S_DEQ's bit) for posters and
 *      takers alike. After it no position is claimed; close() takes what is
 *      queued and returns it, and every waiter that was on the stack has
 *      W_STATE = CLOSED.
 *  I8  Every claim is finished: a claimed position is published (poster) or
 *      freed (taker). Between the CAS and the C_SEQ store the code makes no
 *      call, allocates nothing and has no loop, so a live thread finishes
 *      within nanoseconds. A thread stopped there by worker.terminate()
 *      (V8 can stop it even inside that window: the port's test suite does)
 *      never finishes, and its claim would block the ring for good; so
 *      releaseThread() looks for claims still unfinished after
 *      ABANDONED_CLAIM_MS and finishes them for the dead: a poster's position
 *      becomes VOID (bytesTransferred = -1, counted in S_VOID, skipped by
 *      takers), a taker's packet is requeued in FRONT. close() likewise stops
 *      waiting for an unpublished position after that time.
 *
 * S_LOCK names its holder in the word the acquiring CAS writes, so the owner
 * of a worker that died inside a port call, at any instruction, can take the
 * lock over (`releaseThread`) instead of waiting on it forever.
 *
 * Words written outside the lock: S_ENQ, S_DEQ and C_SEQ (the RING protocol
 * above), the S_DEQ CLOSED_BIT (I7), S_VOID (a taker that skips a VOID cell
 * counts it down), and W_STATE of a slot that is *not* on
 * the stack, by the thread that owns the slot (WAITING → SLEEPING with a CAS
 * before it sleeps, HANDED/CLOSED → IDLE after it has read its mailbox).
 */

export const MAGIC = 0x50434f49; // "IOCP" little-endian
export const LAYOUT_VERSION = 2;

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
export const S_FRONT_HEAD = 18;
export const S_FRONT_COUNT = 19;
export const S_RUNNING = 20;
export const S_WAITING = 21;
export const S_THREADS = 22;
/** S_LOCK bit: a thread may be asleep on the lock (unlock notifies). */
export const LOCK_CONTENDED = 1;

// Ring positions: each on its own cache line, written by one side only.
export const S_ENQ = 32;
export const S_DEQ = 48;
/** VOID cells in the ring: positions of posters that died before publishing (see I8); on the S_DEQ line. */
export const S_VOID = 49;
/** Positions count modulo 2^30; bit 30 of S_ENQ / S_DEQ means closed. */
export const POS_MASK = 0x3fffffff;
export const CLOSED_BIT = 0x40000000;

export const STACK_BASE = 64; // word index of waiter stack entry 0

// Ring cells: 8 words (32 B), two to a cache line.
export const CELL_WORDS = 8;
export const C_SEQ = 0;
export const C_PAYLOAD = 2; // word offset of the 3 payload float64s

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
  /** Ring cells: the power of two ≥ max(capacity, 2). */
  ringSize: number;
  maxThreads: number;
  /** Int32 index of slot 0. */
  slotBase: number;
  /** Int32 index of ring cell 0 (its C_SEQ word). */
  cellBase: number;
  /** Float64 index of FRONT packet 0. */
  frontBase: number;
  byteLength: number;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export function nextPowerOfTwo(n: number): number {
  let size = 1;
  while (size < n) size *= 2;
  return size;
}

/**
 * The ring has at least 2 cells. With one cell, "free for the next lap"
 * (C_SEQ = p + ringSize) and "published" (C_SEQ = p + 1) are the same value,
 * so a published packet looks free: posts overwrite it and takers never see
 * it. Capacity 1 uses a ring of 2 and the capacity check a non-power-of-two
 * capacity uses (I6), so the bound stays exact.
 */
export const MIN_RING_SIZE = 2;

export function geometry(capacity: number, maxThreads: number): Geometry {
  const ringSize = nextPowerOfTwo(Math.max(capacity, MIN_RING_SIZE));
  const stackEnd = (STACK_BASE + maxThreads) * 4;
  const slotBytes = align(stackEnd, 64);
  const ringBytes = align(slotBytes + maxThreads * SLOT_WORDS * 4, 64);
  const frontBytes = ringBytes + ringSize * CELL_WORDS * 4;
  const byteLength = frontBytes + maxThreads * PACKET_F64 * 8;
  return {
    capacity,
    ringSize,
    maxThreads,
    slotBase: slotBytes / 4,
    cellBase: ringBytes / 4,
    frontBase: frontBytes / 8,
    byteLength,
  };
}
