/**
 * The shrinking half of the shared heap (invariants H4, H5, H7 in
 * layout.ts): retiring segments that stayed empty, making room under the
 * bound, the release rounds that account for retired memory until every
 * thread has let it go, and repairing after a dead thread.
 */
import {
  CREATING,
  E_KB,
  E_OWNER,
  E_STATE,
  EMPTY,
  ENTRY_WORDS,
  G_OCC,
  H_ASK,
  H_EPOCH,
  H_FLOOR_KB,
  H_HELD_KB,
  H_HIGH,
  H_LIMBO_KB,
  H_MAX_KB,
  H_RELEASED_KB,
  H_RETIRE_MS,
  H_RETIRED_KB,
  H_TOTAL_KB,
  OCC_CANDIDATE,
  OCC_RETIRED,
  TABLE_WORD,
} from './layout.js';
import type { SegmentDirectory } from './directory.js';
import type { HeapSegment } from './segment.js';

export class HeapShrinker {
  /** Called (at most once per release round: H_ASK) after this thread retired a segment: a round should run. */
  onRetire: (() => void) | undefined;
  readonly #c: Int32Array;
  readonly #entries: number;
  readonly #dir: SegmentDirectory;
  /** trim(): when this thread first saw each candidate segment empty (performance.now()); weak: a dropped record goes. */
  readonly #emptySince = new WeakMap<HeapSegment, number>();

  constructor(control: Int32Array, entries: number, dir: SegmentDirectory) {
    this.#c = control;
    this.#entries = entries;
    this.#dir = dir;
  }

  /**
   * Retires segments that have stayed empty for retireAfterMs (seen by this
   * thread's earlier trim() calls; a block taken in between resets it),
   * largest first, while the heap is above floorBytes: an idle heap ends at
   * floorBytes or below, keeping its smaller segments (the ones a new task
   * most likely needs). With `force`, every empty segment is ready now. Returns
   * the bytes retired. Meant for one thread (the pool's main thread), on a
   * timer; the memory itself goes back once every thread has dropped the
   * segment and collected it (a release round: H7).
   */
  trim(force = false): number {
    const dir = this.#dir;
    dir.sync();
    const c = this.#c;
    const now = performance.now();
    const retireMs = c[H_RETIRE_MS]!;
    const ready: HeapSegment[] = [];
    for (const s of dir.segments) {
      if (s === undefined || !s.live) continue;
      const occ = Atomics.load(s.i32, G_OCC);
      if (occ === 0) {
        // Empty, and not a candidate: new, or a block was taken since the last look.
        if (Atomics.compareExchange(s.i32, G_OCC, 0, OCC_CANDIDATE) !== 0) continue;
        this.#emptySince.set(s, now);
        if (!force) continue;
      } else if (occ !== OCC_CANDIDATE) {
        this.#emptySince.delete(s);
        continue;
      } else if (!force) {
        // Still a candidate: no block taken since it was marked (taking one clears the bit).
        const since = this.#emptySince.get(s);
        if (since === undefined) this.#emptySince.set(s, now);
        if (since === undefined || now - since < retireMs) continue;
      }
      ready.push(s);
    }
    let retired = 0;
    if (ready.length > 1) ready.sort((a, b) => b.buffer.byteLength - a.buffer.byteLength);
    for (const s of ready) {
      if (Atomics.load(c, H_TOTAL_KB) <= c[H_FLOOR_KB]!) break;
      const kb = c[TABLE_WORD + s.index * ENTRY_WORDS + E_KB]!;
      if (this.#retire(s, OCC_CANDIDATE)) retired += kb * 1024;
    }
    return retired;
  }

  /** Retires empty segments (of any class) until kb KiB fit under the bound, as far as H7 allows. Returns KiB retired. */
  reclaim(kb: number): number {
    const dir = this.#dir;
    dir.sync();
    const c = this.#c;
    let freed = 0;
    for (const s of dir.segments) {
      if (Atomics.load(c, H_TOTAL_KB) + kb <= c[H_MAX_KB]!) break;
      if (s === undefined || !s.live) continue;
      const occ = Atomics.load(s.i32, G_OCC);
      if ((occ === 0 || occ === OCC_CANDIDATE) && this.#retire(s, occ)) freed += c[TABLE_WORD + s.index * ENTRY_WORDS + E_KB]!;
    }
    return freed;
  }

  /** Bytes of retired segments that some thread may still hold (H7). */
  get limboBytes(): number {
    return Atomics.load(this.#c, H_LIMBO_KB) * 1024;
  }

  /**
   * H7: begins a release round. Returns its token: pass it to endRelease() once every thread that
   * uses the heap has finished a collect() called after this. One round at a time.
   */
  beginRelease(): number {
    const c = this.#c;
    Atomics.store(c, H_ASK, 0); // a retire from here on asks again
    return Atomics.load(c, H_RETIRED_KB);
  }

  /**
   * H7: ends the round begun with `token`, in which the threads reported heldKb KiB of retired
   * segments still held (each segment once): the rest of what was retired before it leaves
   * H_LIMBO_KB. Returns the bytes released.
   */
  endRelease(token: number, heldKb = 0): number {
    const c = this.#c;
    const retired = (token - Atomics.load(c, H_RELEASED_KB)) | 0;
    const before = Atomics.load(c, H_HELD_KB);
    Atomics.store(c, H_RELEASED_KB, token);
    Atomics.store(c, H_HELD_KB, heldKb);
    Atomics.sub(c, H_LIMBO_KB, retired + before - heldKb);
    return (retired + before - heldKb) * 1024;
  }

  /** Whether segments were retired since the last round ended (another round would release them). */
  get releasePending(): boolean {
    const c = this.#c;
    return Atomics.load(c, H_RETIRED_KB) !== Atomics.load(c, H_RELEASED_KB);
  }

  /** Bytes of retired segments the last round found still held (a later round may find them gone). */
  get heldBytes(): number {
    return Atomics.load(this.#c, H_HELD_KB) * 1024;
  }

  /** Repairs what a thread that died (terminate) left half done: a segment it was creating or reformatting. */
  releaseThread(deadThreadId: number): void {
    const c = this.#c;
    const owner = deadThreadId + 1;
    const high = Math.min(Atomics.load(c, H_HIGH), this.#entries);
    let released = false;
    for (let i = 0; i < high; i++) {
      const e = TABLE_WORD + i * ENTRY_WORDS;
      if (Atomics.load(c, e + E_STATE) !== CREATING || Atomics.load(c, e + E_OWNER) !== owner) continue;
      const kb = c[e + E_KB]!;
      // Its buffer may have been posted already: other threads may hold it, so it counts as retired
      // (H7), past the bound if need be — at most one segment per dead thread, until the next round.
      Atomics.add(c, H_LIMBO_KB, kb);
      Atomics.sub(c, H_TOTAL_KB, kb);
      c[e + E_OWNER] = 0;
      Atomics.store(c, e + E_STATE, EMPTY);
      Atomics.add(c, H_EPOCH, 1);
      Atomics.add(c, H_RETIRED_KB, kb);
      released = true;
    }
    if (released) this.#ask();
  }

  /** H4, H7: reserve room in limbo, one CAS makes it dead; then the table entry is freed and the bytes move to limbo. */
  #retire(s: HeapSegment, occ: number): boolean {
    const c = this.#c;
    const e = TABLE_WORD + s.index * ENTRY_WORDS;
    const kb = c[e + E_KB]!;
    for (;;) {
      const limbo = Atomics.load(c, H_LIMBO_KB);
      if (limbo + kb > c[H_MAX_KB]!) return false; // too much still held somewhere: wait for a round
      if (Atomics.compareExchange(c, H_LIMBO_KB, limbo, limbo + kb) === limbo) break;
    }
    if (Atomics.compareExchange(s.i32, G_OCC, occ, OCC_RETIRED) !== occ) {
      Atomics.sub(c, H_LIMBO_KB, kb);
      return false;
    }
    Atomics.sub(c, H_TOTAL_KB, kb);
    Atomics.store(c, e + E_STATE, EMPTY);
    Atomics.add(c, H_EPOCH, 1);
    Atomics.add(c, H_RETIRED_KB, kb);
    this.#dir.drop(s);
    this.#emptySince.delete(s);
    this.#ask();
    return true;
  }

  #ask(): void {
    if (Atomics.compareExchange(this.#c, H_ASK, 0, 1) === 0) this.onRetire?.();
  }
}
