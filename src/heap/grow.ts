/**
 * The growing half of the shared heap (invariants H1, H5, H8 in layout.ts):
 * a new segment under the bound, or, at the bound, an empty segment of
 * another class reformatted in place. Reformatting is what keeps a small
 * heap from churning: when more size classes are in use than the bound has
 * room for, every class that comes back would otherwise retire someone's
 * empty segment and create a new SharedArrayBuffer — thousands a second,
 * each one memory that only a garbage collection in every thread gives
 * back (H7) — where reusing the empty one costs a header, a bitmap and one
 * channel message.
 */
import { threadId } from 'node:worker_threads';
import type { SegmentDirectory } from './directory.js';
import {
  ACTIVE,
  CREATING,
  E_CLASS,
  E_GEN,
  E_KB,
  E_OWNER,
  E_STATE,
  EMPTY,
  ENTRY_WORDS,
  G_OCC,
  H_EPOCH,
  H_HIGH,
  H_MAX_KB,
  H_TOTAL_KB,
  hostGeometry,
  OCC_CANDIDATE,
  OCC_RETIRED,
  type SegmentPolicy,
  segmentGeometry,
  TABLE_WORD,
} from './layout.js';
import { createSegmentBuffer, type HeapSegment, reformatSegment } from './segment.js';

export class HeapGrower {
  readonly #c: Int32Array;
  readonly #entries: number;
  readonly #dir: SegmentDirectory;
  readonly #policy: SegmentPolicy;

  constructor(control: Int32Array, entries: number, dir: SegmentDirectory, policy: SegmentPolicy) {
    this.#c = control;
    this.#entries = entries;
    this.#dir = dir;
    this.#policy = policy;
  }

  /** H5, H1: a new segment of class cls, or undefined at the bound (or with no free entry, or no memory). */
  grow(cls: number): HeapSegment | undefined {
    const c = this.#c;
    const g = segmentGeometry(cls, this.#policy);
    // H5: reserve the bytes first, bounded.
    for (;;) {
      const total = Atomics.load(c, H_TOTAL_KB);
      if (total + g.kb > c[H_MAX_KB]!) return undefined;
      if (Atomics.compareExchange(c, H_TOTAL_KB, total, total + g.kb) === total) break;
    }
    let index = 0;
    for (; index < this.#entries; index++) {
      const w = TABLE_WORD + index * ENTRY_WORDS + E_STATE;
      if (Atomics.load(c, w) === EMPTY && Atomics.compareExchange(c, w, EMPTY, CREATING) === EMPTY) break;
    }
    if (index === this.#entries) {
      Atomics.sub(c, H_TOTAL_KB, g.kb);
      return undefined;
    }
    const e = TABLE_WORD + index * ENTRY_WORDS;
    for (let high = Atomics.load(c, H_HIGH); high <= index; high = Atomics.load(c, H_HIGH)) {
      if (Atomics.compareExchange(c, H_HIGH, high, index + 1) === high) break;
    }
    c[e + E_KB] = g.kb; // before the owner: releaseThread gives back what this entry counts
    Atomics.store(c, e + E_OWNER, threadId + 1);
    const gen = (c[e + E_GEN]! + 1) | 0;
    let buffer: SharedArrayBuffer;
    try {
      buffer = createSegmentBuffer(g, index, gen);
    } catch {
      Atomics.sub(c, H_TOTAL_KB, g.kb); // out of memory: the caller falls back
      c[e + E_OWNER] = 0;
      Atomics.store(c, e + E_STATE, EMPTY);
      return undefined;
    }
    c[e + E_CLASS] = cls;
    Atomics.store(c, e + E_GEN, gen);
    return this.#publish(e, index, gen, buffer);
  }

  /**
   * H8: at the bound, an empty live segment of another class reformatted in place for class cls:
   * the smallest one at least as large as a new segment of cls would be, else the largest that
   * holds a block of it; undefined if there is none.
   */
  reformat(cls: number): HeapSegment | undefined {
    const dir = this.#dir;
    dir.sync();
    const want = segmentGeometry(cls, this.#policy).byteLength;
    for (;;) {
      let best: HeapSegment | undefined;
      let bestLength = 0;
      for (const s of dir.segments) {
        if (s === undefined || !s.live || s.cls === cls) continue;
        const occ = Atomics.load(s.i32, G_OCC);
        if (occ !== 0 && occ !== OCC_CANDIDATE) continue;
        const length = s.buffer.byteLength;
        const better = best === undefined || (length >= want ? bestLength < want || length < bestLength : bestLength < want && length > bestLength);
        if (better && hostGeometry(cls, length) !== undefined) {
          best = s;
          bestLength = length;
        }
      }
      if (best === undefined) return undefined;
      const seg = this.#reformat(best, cls);
      if (seg !== undefined) return seg;
      // Someone took a block of it (or reformatted it) first: look again.
    }
  }

  #reformat(s: HeapSegment, cls: number): HeapSegment | undefined {
    const occ = Atomics.load(s.i32, G_OCC);
    if ((occ !== 0 && occ !== OCC_CANDIDATE) || Atomics.compareExchange(s.i32, G_OCC, occ, OCC_RETIRED) !== occ) {
      if ((Atomics.load(s.i32, G_OCC) & OCC_RETIRED) !== 0) s.live = false;
      return undefined;
    }
    // Ours alone now: no block in it, no reservation can succeed (H4), nobody else may retire it.
    const c = this.#c;
    const e = TABLE_WORD + s.index * ENTRY_WORDS;
    Atomics.store(c, e + E_STATE, CREATING);
    Atomics.store(c, e + E_OWNER, threadId + 1);
    const gen = (c[e + E_GEN]! + 1) | 0;
    reformatSegment(s.i32, hostGeometry(cls, s.buffer.byteLength)!, gen);
    c[e + E_CLASS] = cls;
    Atomics.store(c, e + E_GEN, gen);
    return this.#publish(e, s.index, gen, s.buffer);
  }

  /** H1: post first, publish after. */
  #publish(e: number, index: number, gen: number, buffer: SharedArrayBuffer): HeapSegment {
    const c = this.#c;
    const dir = this.#dir;
    dir.post({ index, gen, buffer });
    const seg = dir.open(index, gen, buffer)!;
    c[e + E_OWNER] = 0;
    Atomics.store(c, e + E_STATE, ACTIVE);
    Atomics.add(c, H_EPOCH, 1);
    dir.sync();
    return seg;
  }
}
