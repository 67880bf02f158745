/**
 * The shrinking half of the shared heap (invariants H4, H5 in layout.ts):
 * retiring segments that stayed empty, making room under the bound, letting
 * the memory of dropped segments go, and repairing after a dead thread.
 */
import {
  CREATING,
  E_KB,
  E_OWNER,
  E_STATE,
  EMPTY,
  ENTRY_WORDS,
  G_OCC,
  H_EPOCH,
  H_FLOOR_KB,
  H_HIGH,
  H_MAX_KB,
  H_RETIRE_MS,
  H_TOTAL_KB,
  OCC_CANDIDATE,
  OCC_RETIRED,
  TABLE_WORD,
} from './layout.js';
import type { SegmentDirectory } from './directory.js';
import type { HeapSegment } from './segment.js';

/** See releaseMemory(): above V8's external-memory limits (64 MiB soft, more for a synchronous collection). */
const GC_NUDGE_BYTES = 256 * 1024 * 1024;

export class HeapShrinker {
  readonly #c: Int32Array;
  readonly #entries: number;
  readonly #dir: SegmentDirectory;
  /** trim(): when this thread first saw each candidate segment empty (performance.now()). */
  readonly #emptySince = new Map<HeapSegment, number>();

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
   * segment (sync()) and collected it (releaseMemory()).
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

  /**
   * Lets the memory of segments this thread dropped go, if there are at least
   * minBytes of them: V8 frees a SharedArrayBuffer only when a garbage
   * collection finds it unreachable, and (measured, Node 20) it counts
   * SharedArrayBuffer memory in no GC trigger — 6 GB of dead 4 MB buffers
   * piled up without one, where ArrayBuffers of the same size never passed
   * 44 MB. An idle thread allocates nothing and never collects. So this
   * allocates one untouched ArrayBuffer of 256 MiB (lazily zeroed pages: no
   * resident memory) and drops it at once: V8 counts that against its
   * external-memory limit and runs a full collection, which frees the
   * segments (400 MiB of dead segments → 0 in the same test). Returns the
   * bytes it was for (0: nothing done). Costs a full GC of this thread's heap:
   * call it when the thread is idle, after trim() retired something.
   */
  releaseMemory(minBytes = 1024 * 1024): number {
    this.#dir.sync();
    const dropped = this.#dir.dropped;
    if (dropped < minBytes || dropped === 0) return 0;
    this.#dir.dropped = 0;
    try {
      void new ArrayBuffer(GC_NUDGE_BYTES);
    } catch {
      // No address space for it: the segments go at the next collection, whenever that is.
    }
    return dropped;
  }

  /** Repairs what a thread that died (terminate) left half done: a segment it was creating. */
  releaseThread(deadThreadId: number): void {
    const c = this.#c;
    const owner = deadThreadId + 1;
    const high = Math.min(Atomics.load(c, H_HIGH), this.#entries);
    for (let i = 0; i < high; i++) {
      const e = TABLE_WORD + i * ENTRY_WORDS;
      if (Atomics.load(c, e + E_STATE) !== CREATING || Atomics.load(c, e + E_OWNER) !== owner) continue;
      Atomics.sub(c, H_TOTAL_KB, c[e + E_KB]!);
      c[e + E_OWNER] = 0;
      Atomics.store(c, e + E_STATE, EMPTY);
      Atomics.add(c, H_EPOCH, 1);
    }
  }

  /** Retires empty segments (of any class) until kb KiB fit under the bound. Returns KiB retired. */
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

  /** H4: one CAS makes it dead; then the table entry is freed and the bytes given back. */
  #retire(s: HeapSegment, occ: number): boolean {
    if (Atomics.compareExchange(s.i32, G_OCC, occ, OCC_RETIRED) !== occ) return false;
    const c = this.#c;
    const e = TABLE_WORD + s.index * ENTRY_WORDS;
    Atomics.sub(c, H_TOTAL_KB, c[e + E_KB]!);
    Atomics.store(c, e + E_STATE, EMPTY);
    Atomics.add(c, H_EPOCH, 1);
    this.#dir.drop(s);
    this.#emptySince.delete(s);
    return true;
  }
}
