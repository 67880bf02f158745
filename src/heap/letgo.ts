/**
 * What one thread let go of the shared heap (invariant H7 in layout.ts):
 * every SharedArrayBuffer object it stopped using — a dropped segment's, or
 * one a channel message brought that it already holds or that is stale — is
 * registered with a FinalizationRegistry and a WeakRef, with what its memory
 * was (index, generation, nonce, size). collect() asks for a collection and
 * waits, briefly, until every object let go before it was called has been
 * collected; it reports the retired segments whose objects are still alive,
 * which the heap keeps counting until a later round finds them gone.
 */
import { ACTIVE, E_GEN, E_STATE, ENTRY_WORDS, G_GEN, G_INDEX, G_MAGIC, G_NONCE, SEGMENT_MAGIC, TABLE_WORD } from './layout.js';
import type { HeapSegment } from './segment.js';

/**
 * A collection this thread asks for when it waits on objects it let go (see collect()): V8 frees a
 * SharedArrayBuffer only when a garbage collection finds it unreachable, counts SharedArrayBuffer
 * memory in no GC trigger (measured, Node 20: 6 GB of dead 4 MB buffers piled up without one), and
 * an idle thread allocates nothing and never collects. An untouched ArrayBuffer of 256 MiB (lazily
 * zeroed pages: no resident memory), dropped at once, is counted against V8's external-memory limit
 * and starts a full collection, which finishes on this thread's event loop (measured: the objects
 * it frees are reported within a few turns, 5–35 ms).
 */
const GC_NUDGE_BYTES = 256 * 1024 * 1024;
/**
 * How long collect() waits for that collection to report its objects (ms), twice (a second
 * collection if the first did not find them all). What is still alive then is reported as held:
 * still counted, released by a later round.
 */
const COLLECT_WAIT_MS = 250;

function nudgeCollection(): void {
  try {
    void new ArrayBuffer(GC_NUDGE_BYTES);
  } catch {
    // No address space for it: the objects go at the next collection, whenever that is.
  }
}

/** What an object this thread let go was: a segment's memory (index, generation, nonce, KiB), or nothing of this heap's. */
interface LetGo {
  /** Cleared by the collection that finds the object unreachable (its registry callback may come later). */
  ref: WeakRef<SharedArrayBuffer>;
  index: number;
  gen: number;
  nonce: number;
  kb: number;
}

/** A retired segment whose memory this thread still holds (a reference it cannot drop: see collect()). */
export interface HeldSegment {
  /** index:gen:nonce of the segment: the same memory gives the same key in every thread. */
  key: string;
  kb: number;
}

export class LetGoTracker {
  readonly #c: Int32Array;
  readonly #entries: number;
  /** The segment this thread holds at a table index (the directory's). */
  readonly #heldAt: (index: number) => HeapSegment | undefined;
  /**
   * Objects let go and not yet seen collected, by sequence number (a Map iterates in insertion
   * order: oldest first), with what their memory was then. (A WeakRef keeps its object alive to
   * the end of the job that made it: collect() asks for its collection in a later one.)
   */
  readonly #letGone = new Map<number, LetGo>();
  #letGoSeq = 0;
  readonly #registry = new FinalizationRegistry<number>((seq) => {
    this.#letGone.delete(seq);
    this.#wake();
  });
  /** collect() calls waiting: each for every object up to its sequence number. */
  #waiters: { upTo: number; finish: () => void }[] = [];

  constructor(control: Int32Array, entries: number, heldAt: (index: number) => HeapSegment | undefined) {
    this.#c = control;
    this.#entries = entries;
    this.#heldAt = heldAt;
  }

  letGo(buffer: SharedArrayBuffer): void {
    const seq = ++this.#letGoSeq;
    let memory = { index: -1, gen: 0, nonce: 0, kb: 0 };
    if (buffer.byteLength >= 64) {
      const h = new Int32Array(buffer, 0, 8);
      if (h[G_MAGIC] === SEGMENT_MAGIC)
        memory = { index: h[G_INDEX]!, gen: Atomics.load(h, G_GEN), nonce: h[G_NONCE]!, kb: Math.ceil(buffer.byteLength / 1024) };
    }
    this.#letGone.set(seq, { ref: new WeakRef(buffer), ...memory });
    this.#registry.register(buffer, seq);
  }

  /**
   * Waits (a collection asked for, COLLECT_WAIT_MS, twice at most) until every object let go so far
   * has been collected; resolves with the retired segments those still alive then keep in memory.
   * The caller drops what it no longer holds first (the directory's sync()).
   */
  collect(): Promise<HeldSegment[]> {
    const upTo = this.#letGoSeq;
    if (this.#collectedUpTo(upTo)) return Promise.resolve([]);
    return new Promise<HeldSegment[]>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let chances = 2;
      const waiter = {
        upTo,
        finish: () => {
          clearTimeout(timer);
          const at = this.#waiters.indexOf(waiter);
          if (at >= 0) this.#waiters.splice(at, 1);
          resolve(this.#held(upTo));
        },
      };
      const attempt = (): void => {
        if (this.#collectedUpTo(upTo) || chances-- === 0) {
          waiter.finish();
          return;
        }
        nudgeCollection();
        timer = setTimeout(attempt, COLLECT_WAIT_MS);
        timer.unref();
      };
      this.#waiters.push(waiter);
      // From a job of its own: objects let go in this one may still be kept alive by it.
      timer = setTimeout(attempt, 0);
      timer.unref();
    });
  }

  /** Objects let go and not yet seen collected. */
  get uncollected(): number {
    return this.#letGone.size;
  }

  /** The thread leaves the heap: nothing of it waits any more. */
  close(): void {
    for (const w of [...this.#waiters]) w.finish();
  }

  /**
   * Whether every object let go up to `upTo` has had its registry callback. (Not deref(): that
   * would keep the object alive through the rest of this job, and so through a collection asked
   * for in it. #held() derefs, once the waiting is over: a collection may have cleared a WeakRef
   * whose callback has not come yet.)
   */
  #collectedUpTo(upTo: number): boolean {
    const oldest = this.#letGone.keys().next();
    return oldest.done === true || oldest.value > upTo;
  }

  #wake(): void {
    for (const w of [...this.#waiters]) if (this.#collectedUpTo(w.upTo)) w.finish();
  }

  /**
   * The retired segments that objects let go up to `upTo`, and still alive, keep in memory (by
   * key: once each). Memory still in the table — this thread holds the entry's segment, same
   * nonce: a copy, or the same memory reformatted — counts there, not here.
   */
  #held(upTo: number): HeldSegment[] {
    const c = this.#c;
    const held = new Map<string, number>();
    for (const [seq, m] of this.#letGone) {
      if (seq > upTo) break;
      if (m.ref.deref() === undefined) continue; // collected
      if (!(m.index >>> 0 === m.index && m.index < this.#entries)) continue; // not this heap's memory
      const live = this.#heldAt(m.index);
      if (live !== undefined && live.nonce === m.nonce) {
        const e = TABLE_WORD + m.index * ENTRY_WORDS;
        if (Atomics.load(c, e + E_STATE) === ACTIVE && Atomics.load(c, e + E_GEN) === live.gen && Atomics.load(live.i32, G_GEN) === live.gen)
          continue;
      }
      held.set(`${m.index}:${m.gen}:${m.nonce}`, m.kb);
    }
    return [...held].map(([key, kb]) => ({ key, kb }));
  }
}
