/**
 * The RING: Dmitry Vyukov's bounded multi-producer multi-consumer queue, of
 * packets of three float64 — the queue under the portable port (the words
 * and the cell protocol are in ./layout.ts). Posters and takers never take
 * the port's lock: each claims a position with a CAS on its own position
 * word (S_ENQ or S_DEQ, each on its own cache line), then publishes or frees
 * the cell through its sequence number.
 *
 * To Vyukov's queue the port adds three things, and this type keeps them:
 *  - I1  positions are claimed one at a time, so packets leave in the order
 *        they were published; a take that finds a flag in S_DEQ (FRONT holds
 *        packets, or closed) returns false and leaves the packet to the lock
 *        holder, who takes FRONT first.
 *  - I6  S_ENQ − S_DEQ ≤ capacity, exactly, with any number of posters: a
 *        poster claims position p only once the packet capacity positions
 *        back was taken (for a power-of-two capacity, the cell's own C_SEQ).
 *  - I7  a post that sees CLOSED_BIT in S_ENQ sets it in S_DEQ before it
 *        throws, so "closed" is one instant for both sides; a publish whose
 *        claim close() ended meanwhile fails its CAS and throws.
 *  - I8  every claim is written into this thread's record (R_POST, R_TAKE)
 *        before the CAS that claims it and cleared after the CAS that
 *        finishes it, and every change of C_SEQ is a CAS from the value its
 *        writer expects: a claim finished for a dead thread (./repair.ts) or
 *        by close() is finished exactly once, and an owner whose CAS fails
 *        knows. A take names the packet it delivers in R_GOT before the CAS
 *        that frees its cell: a death before that CAS leaves the packet to
 *        be put back, one after it leaves it named (releaseThread's
 *        `lastTaken`).
 *
 * A Ring works on its own too (standaloneRing below): the benchmark measures
 * it that way, as the ceiling of a one-by-one MPMC hand-off.
 *
 * test/port/fixtures/stall.mjs pauses a thread inside post() and get() with a
 * debugger, finding the lines in dist/index.js by their text: the first line
 * after `post(bytesTransferred = 0` that computes the payload's index, and
 * the first `let pos = Atomics.load(i32, S_DEQ);` after `dequeueInto(s`.
 * Renaming those breaks that test, not the port.
 */
import { PortClosedError, PortCorruptedError } from '../errors.js';
import {
  C_PAYLOAD,
  CELL_WORDS,
  CLAIM,
  CLOSED_BIT,
  GOT_RING,
  MIN_RING_SIZE,
  nextPowerOfTwo,
  PORT_OPEN,
  POS_FLAGS,
  POS_MASK,
  R_GOT,
  R_POST,
  R_TAKE,
  RECORD_WORDS,
  S_CLOSED,
  S_DEQ,
  S_ENQ,
  S_VOID,
  STACK_BASE,
  VOID_BIT,
} from './layout.js';

/** Iterations a full post() waits for a taker that has claimed the packet in its way to free the cell (I6). */
const FREE_SPIN = 256;

export class Ring {
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #cellBase: number;
  readonly #ringSize: number;
  readonly #mask: number;
  readonly #capacity: number;
  /** capacity is not the ring's size (a power of two): a poster checks the bound itself (I6, #roomFor). */
  readonly #bounded: boolean;
  /**
   * This thread's claim record (I8): a view of its words in the port's
   * buffer, or a private array for a thread that found no free record (it
   * claims unrecorded). Set by the port before the first post or take.
   */
  record: Int32Array | null = null;
  /** The record's R_GOT packet (3 float64), set with `record`. */
  got: Float64Array | null = null;
  /**
   * The S_DEQ value with a flag that made dequeueInto() return false; left
   * as it is otherwise (the lock holder sets it to 0 before a take, and
   * checks the flag after one that found nothing).
   */
  flaggedAt = 0;
  /** A cell dequeueInto(…, hold) has claimed and not yet freed: freeHeld() frees it after the hand-over (I8). */
  #heldCell = 0;
  #heldSeq = 0;
  #heldPos = 0;

  constructor(i32: Int32Array, f64: Float64Array, cellBase: number, ringSize: number, capacity: number) {
    this.#i32 = i32;
    this.#f64 = f64;
    this.#cellBase = cellBase;
    this.#ringSize = ringSize;
    this.#mask = ringSize - 1;
    this.#capacity = capacity;
    this.#bounded = capacity !== ringSize;
  }

  /**
   * Publishes one packet. False when the ring holds `capacity` packets
   * (nothing is dropped); throws PortClosedError once closed (I7). The
   * numbers are stored as given: the caller has checked them (a port's
   * post() does, as an unsigned 32-bit count and two finite numbers).
   */
  post(bytesTransferred = 0, completionKey = 0, overlapped = 0): boolean {
    // One loop, and the rare paths methods of their own: kept under V8's
    // inlining budget (460 bytes of bytecode), so a port's post() inlines it.
    const i32 = this.#i32;
    const claims = this.record!;
    let pos = Atomics.load(i32, S_ENQ);
    for (;;) {
      if ((pos & POS_FLAGS) !== 0) return this.#postClosed(pos);
      const cell = this.#cellBase + (pos & this.#mask) * CELL_WORDS;
      const dif = ((Atomics.load(i32, cell) - pos) << 2) >> 2;
      if (dif === 0) {
        if (this.#bounded && !this.#roomFor(pos)) break;
        // I8: recorded before the claim, cleared after the publish; plain
        // stores to this thread's own cache line, ordered by the CASes around them.
        claims[R_POST] = pos | CLAIM;
        const seen = Atomics.compareExchange(i32, S_ENQ, pos, (pos + 1) & POS_MASK);
        if (seen === pos) {
          const f = (cell + C_PAYLOAD) >> 1;
          const f64 = this.#f64;
          f64[f] = bytesTransferred;
          f64[f + 1] = completionKey;
          f64[f + 2] = overlapped;
          // A CAS, not a store: if close() ended this claim meanwhile (I7), the publish fails.
          const was = Atomics.compareExchange(i32, cell, pos, (pos + 1) & POS_MASK);
          claims[R_POST] = 0;
          if (was === pos) return true;
          pos = this.#postEnded();
        } else {
          pos = seen; // another poster claimed pos first
        }
      } else if (dif < 0) {
        // The cell still holds the packet a lap behind: full, unless a taker is freeing it right now.
        if (!this.#freedSoon(pos, dif)) break;
      } else {
        pos = this.#reload(S_ENQ, pos); // our view of S_ENQ was stale
      }
    }
    // Full. A claim recorded for a position another poster won is cleared.
    claims[R_POST] = 0;
    return false;
  }

  /**
   * The one claim loop of every taker: takes the packet at S_DEQ into
   * scratch[s..s+2], skipping VOID positions. False when none is published yet
   * or S_DEQ carries a flag (closed, or FRONT holds packets: they go first,
   * under the lock). With or without the lock. With `hold` (the lock holder
   * handing the packet to a waiter, I8), the cell stays claimed until
   * freeHeld().
   */
  dequeueInto(scratch: Float64Array, s: number, hold: boolean): boolean {
    // Small enough for V8 to inline into get() (under 460 bytes of
    // bytecode): the rare paths are methods of their own.
    const i32 = this.#i32;
    const claims = this.record!;
    let pos = Atomics.load(i32, S_DEQ);
    for (;;) {
      if ((pos & POS_FLAGS) !== 0) return this.#flagged(pos);
      const cell = this.#cellBase + (pos & this.#mask) * CELL_WORDS;
      const seq = Atomics.load(i32, cell);
      // VOID_BIT is shifted out: a VOID position is claimed like a packet.
      const dif = ((seq - pos - 1) << 2) >> 2;
      if (dif === 0) {
        claims[R_TAKE] = pos | CLAIM; // I8: before the claim
        const seen = Atomics.compareExchange(i32, S_DEQ, pos, (pos + 1) & POS_MASK);
        if (seen === pos) {
          const f = (cell + C_PAYLOAD) >> 1;
          const f64 = this.#f64;
          scratch[s] = f64[f]!;
          scratch[s + 1] = f64[f + 1]!;
          scratch[s + 2] = f64[f + 2]!;
          if (hold && (seq & VOID_BIT) === 0) return this.#hold(cell, seq, pos);
          if (this.#free(cell, seq, pos)) return true;
          pos = Atomics.load(i32, S_DEQ); // a VOID position (or not ours): take the next
          continue;
        }
        pos = seen;
      } else if (dif < 0) {
        return this.#empty(pos, seq, dif);
      } else {
        pos = this.#reload(S_DEQ, pos);
      }
    }
  }

  /** S_DEQ carries a flag: closed, or FRONT holds packets (they go first, under the lock). */
  #flagged(pos: number): false {
    this.flaggedAt = pos;
    return this.#none();
  }

  /** A take that found nothing to take: its record says so (I8). */
  #none(): false {
    this.record![R_TAKE] = 0;
    return false;
  }

  /** The cell at S_DEQ holds no packet for pos yet: empty, unless its sequence number is one no port writes. */
  #empty(pos: number, seq: number, dif: number): false {
    // -1: its poster has not published it; -ringSize: a taker a lap behind is still freeing it.
    if (dif !== -1 && dif !== -this.#ringSize) corrupt(`ring cell of position ${pos} has sequence ${seq}`);
    return this.#none();
  }

  /**
   * Frees a cell dequeueInto() claimed, for the next lap. A CAS: if the
   * claim was finished for this thread meanwhile (it was taken for dead),
   * the packet is not ours. True for a packet that is ours to deliver; false
   * for a VOID position (nothing to deliver) or a claim finished for us.
   */
  #free(cell: number, seq: number, pos: number): boolean {
    const i32 = this.#i32;
    const record = this.record!;
    const delivers = (seq & VOID_BIT) === 0;
    if (delivers) {
      // I8: name the packet before the free that makes it ours for good — R_GOT first, so a
      // death half way leaves R_GOT naming this claim, which releaseThread puts back instead.
      // Plain stores to this thread's own line, ordered by the CAS below.
      const f = (cell + C_PAYLOAD) >> 1;
      const f64 = this.#f64;
      const got = this.got!;
      record[R_GOT] = pos | GOT_RING;
      got[0] = f64[f]!;
      got[1] = f64[f + 1]!;
      got[2] = f64[f + 2]!;
    }
    const freed = Atomics.compareExchange(i32, cell, seq, (pos + this.#ringSize) & POS_MASK);
    record[R_TAKE] = 0;
    if (freed !== seq) {
      // Finished for us (taken for dead): the packet went back, it is not ours.
      if (delivers) record[R_GOT] = 0;
      return false;
    }
    if (delivers) return true;
    Atomics.sub(i32, S_VOID, 1);
    return false;
  }

  /** dequeueInto(…, true): the cell stays claimed until freeHeld(), after the hand-over (I8). */
  #hold(cell: number, seq: number, pos: number): true {
    this.#heldCell = cell;
    this.#heldSeq = seq;
    this.#heldPos = pos;
    return true;
  }

  /** After dequeueInto(…, true), once the packet is handed over: frees the held cell and clears the record (I8). */
  freeHeld(): void {
    Atomics.compareExchange(this.#i32, this.#heldCell, this.#heldSeq, (this.#heldPos + this.#ringSize) & POS_MASK);
    this.record![R_TAKE] = 0;
  }

  /**
   * Positions claimed and not yet taken, less VOID ones (I6 bounds it by
   * capacity). S_DEQ is read first: S_ENQ only grows, so the S_ENQ read after
   * it is never behind it; read against an S_DEQ that did not move
   * meanwhile, more than capacity is corrupt.
   */
  queued(): number {
    const i32 = this.#i32;
    const deq = Atomics.load(i32, S_DEQ) & POS_MASK;
    const positions = ((Atomics.load(i32, S_ENQ) & POS_MASK) - deq) & POS_MASK;
    if (positions > this.#capacity && (Atomics.load(i32, S_DEQ) & POS_MASK) === deq) {
      corrupt(`${positions} ring positions queued, capacity ${this.#capacity}`);
    }
    return Math.max(0, Math.min(positions, this.#capacity) - Atomics.load(i32, S_VOID));
  }

  /** Int32 index of the cell (its C_SEQ word) that position pos uses. */
  cellOf(pos: number): number {
    return this.#cellBase + (pos & this.#mask) * CELL_WORDS;
  }

  /**
   * Non-power-of-two capacity: position pos may be filled only once the
   * packet capacity positions before it was taken (I6). That packet's cell
   * says so: its C_SEQ became (its position + ringSize) when it was freed. A
   * taker that has claimed it and not yet freed it does so within
   * nanoseconds: wait a little for it rather than answer "full" with
   * capacity − 1 packets queued.
   */
  #roomFor(pos: number): boolean {
    const before = (pos - this.#capacity) & POS_MASK;
    const cell = this.#cellBase + (before & this.#mask) * CELL_WORDS;
    for (let spin = 0; ; spin++) {
      const d = ((Atomics.load(this.#i32, cell) - before) << 2) >> 2;
      if (d >= this.#ringSize) return true;
      // 0: its poster has not published it; 1: published (and maybe being taken).
      if (d !== 0 && d !== 1) return corrupt(`ring cell of position ${before} has sequence offset ${d}`);
      if (d === 0 || spin >= FREE_SPIN || (((Atomics.load(this.#i32, S_DEQ) & POS_MASK) - before) << 2) >> 2 <= 0) return false;
    }
  }

  /**
   * Power-of-two capacity, and the cell of pos holds position pos − ringSize:
   * dif = −ringSize (its poster has not published it) or 1 − ringSize
   * (published, not yet freed). If a taker has claimed it, wait a little for
   * the free (I6); true if the cell is free now.
   */
  #freedSoon(pos: number, dif: number): boolean {
    if (dif === -this.#ringSize) return false;
    if (dif !== 1 - this.#ringSize) return corrupt(`ring cell of position ${pos} has sequence offset ${dif}`);
    const i32 = this.#i32;
    const behind = (pos - this.#ringSize) & POS_MASK;
    if ((((Atomics.load(i32, S_DEQ) & POS_MASK) - behind) << 2) >> 2 <= 0) return false; // not taken: full
    const cell = this.#cellBase + (pos & this.#mask) * CELL_WORDS;
    for (let spin = 0; spin < FREE_SPIN; spin++) if (((Atomics.load(i32, cell) - pos) << 2) >> 2 >= 0) return true;
    return false;
  }

  /**
   * A position word read again after its cell said it was stale. Another
   * thread moved it on; if it did not, the cell's sequence number is ahead
   * of the word, which no port writes: corrupt (instead of spinning forever).
   */
  #reload(word: number, pos: number): number {
    const again = Atomics.load(this.#i32, word);
    if (again === pos) return corrupt(`ring cell of position ${pos & POS_MASK} is ahead of ${word === S_ENQ ? 'S_ENQ' : 'S_DEQ'}`);
    return again;
  }

  /** post() saw a flag in S_ENQ: closed (I7). Makes "closed" one instant for takers too, then throws. */
  #postClosed(pos: number): never {
    if ((pos & POS_FLAGS) !== CLOSED_BIT || Atomics.load(this.#i32, S_CLOSED) === PORT_OPEN) {
      return corrupt(`S_ENQ = ${pos} on a port that is not closed`);
    }
    Atomics.or(this.#i32, S_DEQ, CLOSED_BIT);
    throw new PortClosedError('post() on a closed completion port');
  }

  /**
   * The publishing CAS failed: the claim was ended for this thread. Only
   * close() ends a live thread's claim (I7, I8), so this post throws
   * PortClosedError — its packet was neither returned by close() nor queued.
   * Returns S_ENQ to try again if the port is, unexpectedly, open.
   */
  #postEnded(): number {
    const pos = Atomics.load(this.#i32, S_ENQ);
    if ((pos & POS_FLAGS) !== 0) return this.#postClosed(pos);
    return pos;
  }
}

function corrupt(what: string): never {
  throw new PortCorruptedError(what);
}

/**
 * A ring on its own, outside any port, in a buffer of its own: the position
 * words where a port has them (S_ENQ, S_DEQ on their own cache lines), the
 * cells after them, each free for its first lap. For measuring the queue
 * alone; attach to it from any thread with attachRing().
 */
export function standaloneRing(capacity: number): SharedArrayBuffer {
  const ringSize = nextPowerOfTwo(Math.max(capacity, MIN_RING_SIZE));
  const buffer = new SharedArrayBuffer((STACK_BASE + ringSize * CELL_WORDS) * 4);
  const i32 = new Int32Array(buffer);
  i32[0] = capacity;
  for (let c = 0; c < ringSize; c++) i32[STACK_BASE + c * CELL_WORDS] = c;
  return buffer;
}

/** A Ring over a standaloneRing() buffer, with a private claim record (nothing repairs a standalone ring). */
export function attachRing(buffer: SharedArrayBuffer): Ring {
  const i32 = new Int32Array(buffer);
  const capacity = i32[0]!;
  const ringSize = nextPowerOfTwo(Math.max(capacity, MIN_RING_SIZE));
  if (capacity < 1 || buffer.byteLength !== (STACK_BASE + ringSize * CELL_WORDS) * 4) throw new TypeError('not a standalone ring buffer');
  const ring = new Ring(i32, new Float64Array(buffer), STACK_BASE, ringSize, capacity);
  ring.record = new Int32Array(RECORD_WORDS);
  ring.got = new Float64Array(3);
  return ring;
}
