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
 *                              H_RECORDS      8           number of claim records (maxThreads + 64)
 *  64   STATE (64 B)           S_LOCK        16           mutex: 0 free, else holder's (threadId + 1) · 2,
 *                                                         | LOCK_CONTENDED (1) if it may have sleepers
 *                              S_CLOSED      17           PORT_OPEN (0), PORT_CLOSING (1: close() began), PORT_CLOSED (2: done)
 *                              S_FRONT_HEAD  18           FRONT index of the oldest requeued packet
 *                              S_FRONT_TAIL  19           FRONT index after the newest (count = tail − head)
 *                              S_RUNNING     20           threads that count as running
 *                              S_WAITING     21           depth of the waiter stack
 *                              S_THREADS     22           slots of kind THREAD in use
 *                              S_PENDING     23           deaths left for the next lock holder to finish (I9)
 *                              S_ANON        24           threads that found no free record (unrecorded)
 *                              S_STUCK_LOCK  25           a lock word releaseThread() waited out (I9)
 *                              S_NEED_SCAN   26           1: an unrecorded thread died; scan the ring (I8)
 *                              S_LOCK_ANON   27           tag of the lock holder if it is unrecorded (I8)
 *  128  ENQUEUE (64 B)         S_ENQ         32           next ring position to fill   | CLOSED_BIT
 *  192  DEQUEUE (64 B)         S_DEQ         48           next ring position to take   | CLOSED_BIT | FRONT_BIT
 *                              S_VOID        49           VOID positions in the ring (I8)
 *  256  WAITER STACK           maxThreads words           slot indices; [waiting-1] is released first:
 *                                                         the newest waiter of the smallest rank (I3)
 *  ...  SLOTS (64 B each,      per slot i at word base = slotBase + 16·i:
 *       cache-line aligned)      +0 W_STATE      SLOT_: IDLE | WAITING | SLEEPING | HANDED | CLOSED
 *                                +1 W_KIND       KIND_: FREE | THREAD | EXTRA
 *                                +2 W_OWNER      slot index of the THREAD slot that owns it
 *                                +3 W_THREAD_ID  worker_threads.threadId of the owner
 *                                +4 W_RUNNING    (THREAD slots) running slots this thread holds
 *                                +5 W_DEAD       1: its thread died; release it (I9)
 *                                +6 W_BEHIND     the rank it waits with: 0 ordinary, n > 0 behind
 *                                                every waiter of a smaller rank (getAsync `behind`, I3)
 *                                +8..+13         mailbox: 3 float64 (bytes, key, overlapped)
 *  ...  RECORDS (64 B each,    per record r at word base = recordBase + 16·r: what one thread
 *       one line per thread)   has in flight, written only by that thread (I8):
 *                                +0 R_TID        threadId + 1 of its thread; 0 = free
 *                                +1 R_POST       CLAIM | position it is claiming or publishing; 0 none
 *                                +2 R_TAKE       CLAIM | position it is claiming or freeing; 0 none
 *                                +3 R_FRONT      FRONT index + 1 it is handing over; 0 none
 *                                +4 R_TARGET     slot + 1 it is handing that packet to; 0 none
 *                                +5 R_DEAD       1: its thread died; finish its claims (I9)
 *                                +6 R_GOT        where its last take came from: GOT_RING | position,
 *                                                GOT_MAIL | slot, GOT_FRONT | FRONT index; 0 none
 *                                +8..+13         3 float64: that packet (I8: lastTaken)
 *  ...  RING (32 B a cell,     cell c at word cellBase + 8·c:
 *       ringSize cells)          +0 C_SEQ        the cell's sequence number (below)
 *                                +2..+7          3 float64 (bytesTransferred, completionKey, overlapped)
 *  ...  FRONT (24 B a packet,  frontSize = maxThreads + records + 1 packets: packets recovered
 *       frontSize packets)     from threads that died holding them, delivered before the RING's
 *                              packets (I1); S_FRONT_HEAD / S_FRONT_TAIL index it (./front.ts)
 * ```
 *
 * The RING is Vyukov's bounded MPMC queue: posters and takers do not take
 * the lock, and each side writes only its own position word (S_ENQ or S_DEQ,
 * each on its own cache line) and the cells. Positions count packets modulo
 * 2^30 (POS_MASK); bit 30 (CLOSED_BIT) of a position word means closed, and
 * bit 31 (FRONT_BIT) of S_DEQ means FRONT holds packets. Cell c = position
 * & (ringSize − 1). For position p in cell c:
 *   C_SEQ = p          free for the packet at p: a poster may claim it by
 *                      moving S_ENQ from p to p + 1 (CAS); claimed, it writes
 *                      the packet and publishes it with a CAS of C_SEQ from p
 *                      to p + 1;
 *   C_SEQ = p + 1      published: a taker may claim it by moving S_DEQ from p
 *                      to p + 1 (CAS), then reads it and frees the cell for
 *                      the next lap with a CAS from p + 1 to p + ringSize;
 *   C_SEQ = p + 1 | VOID_BIT
 *                      VOID: a claim finished by another thread (I8); takers
 *                      claim and free it like a packet, and deliver nothing.
 * Every C_SEQ change is a CAS from the value its writer expects, so a claim
 * is finished exactly once — by its owner, or for it — and an owner whose
 * CAS fails knows its claim was finished for it. The payload is written
 * before and read after a C_SEQ access that sees the claim, so it is handed
 * over by that seq-cst pair.
 *
 * Invariants I1–I9. They describe the port whenever S_LOCK is free: a lock
 * holder may change several words that belong together, and restores them
 * before it lets go (a holder that dies half way is repaired, I8/I9). Each
 * file of this folder states at its top the ones it keeps:
 *   ring.ts I1 I6 I7 I8 · front.ts I1 · records.ts I8 · lock.ts I8 I9 ·
 *   state.ts I2 I9 · waiters.ts I2 I3 I4 I5 I8 · wait.ts I3 I4 ·
 *   close.ts I7 · release.ts I8 I9 · repair.ts I8 I9.
 *
 *  I1  Packets are dequeued in the order they were queued: FRONT first
 *      (oldest), then the RING in position order. Positions are claimed by
 *      CAS one at a time, so no packet overtakes another. FRONT_BIT is set in
 *      S_DEQ while FRONT holds packets, so a taker that read S_DEQ before a
 *      packet was put back in FRONT fails its CAS and goes to FRONT first.
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
 *      Only the lock holder pushes or pops. The stack is ordered by rank
 *      (W_BEHIND): no entry's rank is smaller than that of an entry above
 *      it, and among equal ranks the newer waiter is above. The top is
 *      released first: LIFO among ordinary waiters (rank 0, always on top),
 *      then the waiters behind them, lightest first. A slot's rank is
 *      written before its W_STATE says it waits.
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
 *      with any number of posters. A poster that finds that packet claimed by
 *      a taker and not yet freed waits a few hundred nanoseconds for the
 *      free before it answers "full". FRONT is outside the bound: it holds
 *      packets recovered from dead threads (at most one per slot and one per
 *      record), which post() did not count when it queued them again.
 *  I7  Closing sets CLOSED_BIT in S_ENQ, then in S_DEQ, under the lock; a
 *      poster that sees the S_ENQ bit sets the S_DEQ bit itself before it
 *      throws, so "closed" is one instant (S_DEQ's bit) for posters and
 *      takers alike. After it no position is claimed, S_DEQ and S_ENQ stay put
 *      and nothing is added to FRONT without the lock. close() then collects
 *      FRONT and every position in [S_DEQ, S_ENQ) without changing them, and
 *      commits (FRONT, S_DEQ, S_CLOSED = CLOSED_DONE) at the end, so a
 *      close() cut short by a thread's death (S_CLOSED = CLOSING) is simply
 *      run again: by releaseThread() of that thread, or by the next close(). A position claimed before the close and
 *      not yet published is waited for (its poster is live: I8), at most
 *      CLOSE_WAIT_MS in all, then made VOID: its poster's publishing CAS
 *      fails and its post() throws PortClosedError — its packet is neither
 *      returned by close() nor reported as posted.
 *  I8  Ownership. A thread writes into its own record what it is about to
 *      claim (R_POST / R_TAKE = CLAIM | p) before the CAS that claims it, and
 *      clears it after the CAS that finishes it; a lock holder handing a
 *      packet to a waiter also names the waiter (R_TARGET) and, for a FRONT
 *      packet, its index (R_FRONT), and finishes the take only after the
 *      waiter is HANDED. S_LOCK names its holder. So the claims of a thread
 *      that died — at any instruction — are exactly those in its records,
 *      and releaseThread(threadId) finishes only those: a poster's position
 *      becomes VOID (its post() never returned), a taker's packet goes back
 *      to FRONT (or to the caller in `abandoned` if the port is closed), a
 *      FRONT packet handed to a waiter is removed. A take that delivers a
 *      packet to its own thread also writes where the packet came from and
 *      the packet itself (R_GOT) before the step that makes it the thread's
 *      for good — the CAS that frees its cell, the store that empties its
 *      mailbox, the removal from FRONT — so at every instruction a packet
 *      taken by a thread that died is either still the port's (it goes
 *      back) or named by R_GOT (releaseThread reports it in `lastTaken`),
 *      never both and never neither. A recorded position whose
 *      claim another live thread may have won (both recorded it; only one
 *      CAS succeeded) is waited for. A live thread's claim is only ever
 *      waited for. A thread that found no free record (S_ANON > 0) claims
 *      unrecorded; its death costs a scan of the ring (S_NEED_SCAN), which
 *      finishes any claim no record owns, after a short wait. Holding the
 *      lock, it names itself in S_LOCK_ANON, so every lock word names a
 *      thread some word of the port knows (else the word is corrupt).
 *  I9  Deaths left for later. releaseThread() needs the lock; it inherits it
 *      only from the thread it releases. If another thread holds it for
 *      RELEASE_LOCK_WAIT_MS (it may have died too, its death not yet
 *      reported), the release marks the dead thread's slots (W_DEAD) and
 *      records (R_DEAD), counts it in S_PENDING, and returns; whoever takes
 *      the lock next finishes it. S_STUCK_LOCK remembers the lock word waited
 *      out, so the next release behind the same holder does not wait again.
 *
 * Words written outside the lock: S_ENQ, S_DEQ and C_SEQ (the RING protocol
 * above), the S_DEQ CLOSED_BIT (I7), S_VOID (a taker that skips a VOID cell
 * counts it down), a record's fields (by its own thread; R_TID by the CAS
 * that allocates it; R_DEAD and W_DEAD by releaseThread), S_PENDING and
 * S_STUCK_LOCK (I9), S_ANON, and W_STATE of a slot that is *not* on the stack,
 * by the thread that owns the slot (WAITING → SLEEPING with a CAS before it
 * sleeps, HANDED/CLOSED → IDLE after it has read its mailbox).
 */

export const MAGIC = 0x50434f49; // "IOCP" little-endian
export const LAYOUT_VERSION = 5;

// Header words.
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_CAPACITY = 2;
export const H_RING_SIZE = 3;
export const H_MAX_THREADS = 4;
export const H_CONCURRENCY = 5;
export const H_SPIN = 6;
export const H_BYTE_LENGTH = 7;
export const H_RECORDS = 8;

// State words: their own cache line, away from the read-mostly header.
export const S_LOCK = 16;
export const S_CLOSED = 17;
export const S_FRONT_HEAD = 18;
export const S_FRONT_TAIL = 19;
export const S_RUNNING = 20;
export const S_WAITING = 21;
export const S_THREADS = 22;
export const S_PENDING = 23;
export const S_ANON = 24;
export const S_STUCK_LOCK = 25;
export const S_NEED_SCAN = 26;
export const S_LOCK_ANON = 27;
/** S_LOCK bit: a thread may be asleep on the lock (unlock notifies). */
export const LOCK_CONTENDED = 1;

// S_CLOSED values.
export const PORT_OPEN = 0;
export const PORT_CLOSING = 1;
export const PORT_CLOSED = 2;

// Ring positions: each on its own cache line, written by one side only.
export const S_ENQ = 32;
export const S_DEQ = 48;
/** VOID positions in the ring (I8); on the S_DEQ line. */
export const S_VOID = 49;
/** Positions count modulo 2^30; bit 30 of S_ENQ / S_DEQ means closed, bit 31 of S_DEQ that FRONT holds packets. */
export const POS_MASK = 0x3fffffff;
export const CLOSED_BIT = 0x40000000;
export const FRONT_BIT = 0x80000000 | 0;
/** The flag bits of a position word. */
export const POS_FLAGS = ~POS_MASK;
/** C_SEQ bit: the position is VOID (a claim finished for its owner, I8). */
export const VOID_BIT = 0x40000000;
/** Record bit: R_POST / R_TAKE hold a position. */
export const CLAIM = 0x40000000;

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
export const W_DEAD = 5;
export const W_BEHIND = 6;
export const W_MAILBOX = 8; // word offset of the 3 mailbox float64s

// W_STATE values.
export const SLOT_IDLE = 0;
export const SLOT_WAITING = 1; // on the stack, owner spinning
export const SLOT_SLEEPING = 2; // on the stack, owner in Atomics.wait / waitAsync
export const SLOT_HANDED = 3; // popped, mailbox holds a packet for the owner
export const SLOT_CLOSED = 4; // popped by close(): the owner must throw

// W_KIND values.
export const KIND_FREE = 0;
export const KIND_THREAD = 1; // one per attached thread: carries W_RUNNING
export const KIND_EXTRA = 2; // extra slot for a concurrent getAsync of the same thread

// Record fields (word offsets within a 16-word record: one cache line, written by its own thread).
export const RECORD_WORDS = 16;
export const R_TID = 0;
export const R_POST = 1;
export const R_TAKE = 2;
export const R_FRONT = 3;
export const R_TARGET = 4;
export const R_DEAD = 5;
/** Where the record's thread got its last packet (I8): GOT_* | index; 0 none. */
export const R_GOT = 6;
/** Word offset of that packet's 3 float64 (8-byte aligned: records are 64-byte lines). */
export const R_GOT_PACKET = 8;
/** R_GOT kinds (bits 30-31) over a 30-bit index (POS_MASK): a ring position, a slot's mailbox, a FRONT index. */
export const GOT_RING = 0x40000000;
export const GOT_MAIL = 0x80000000 | 0;
export const GOT_FRONT = 0xc0000000 | 0;
export const GOT_KIND = 0xc0000000 | 0;
/** Records beyond maxThreads: threads that only post (a main thread, a pool's threads on its result port). */
export const EXTRA_RECORDS = 64;

export const PACKET_F64 = 3; // float64s per packet

/** The views every part of a port works on: one set per port instance, over the one buffer. */
export interface Memory {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly geo: Geometry;
}

/** Int32 index of field `field` of slot `slot`. */
export function slotWord(m: Memory, slot: number, field: number): number {
  return m.geo.slotBase + slot * SLOT_WORDS + field;
}

export interface Geometry {
  capacity: number;
  /** Ring cells: the power of two ≥ max(capacity, 2). */
  ringSize: number;
  maxThreads: number;
  /** Claim records (I8). */
  records: number;
  /** FRONT entries (one more than it may hold, so full and empty differ). */
  frontSize: number;
  /** Int32 index of slot 0. */
  slotBase: number;
  /** Int32 index of record 0. */
  recordBase: number;
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
  const records = maxThreads + EXTRA_RECORDS;
  const frontSize = maxThreads + records + 1;
  const stackEnd = (STACK_BASE + maxThreads) * 4;
  const slotBytes = align(stackEnd, 64);
  const recordBytes = slotBytes + maxThreads * SLOT_WORDS * 4;
  const ringBytes = align(recordBytes + records * RECORD_WORDS * 4, 64);
  const frontBytes = ringBytes + ringSize * CELL_WORDS * 4;
  const byteLength = frontBytes + frontSize * PACKET_F64 * 8;
  return {
    capacity,
    ringSize,
    maxThreads,
    records,
    frontSize,
    slotBase: slotBytes / 4,
    recordBase: recordBytes / 4,
    cellBase: ringBytes / 4,
    frontBase: frontBytes / 8,
    byteLength,
  };
}
