/**
 * One thread's view of the shared heap's segments: which SharedArrayBuffers
 * it holds, by table index, by buffer and by size class, kept in step with
 * the shared table (H1, H4, H8 in layout.ts) through the heap's
 * BroadcastChannel.
 *
 * A creator posts a new segment on the channel before it publishes it; the
 * post queues the message in every subscribed thread at once (Node's
 * BroadcastChannel delivers to each subscriber's port synchronously). So a
 * thread that sees a segment ACTIVE, or a reference into it, finds it with
 * receiveMessageOnPort — no waiting, no event loop. When the event loop does
 * run, the channel's message event adopts what arrives.
 *
 * Letting go (H7). Every SharedArrayBuffer object this thread stops using —
 * a dropped segment's, or one a message brought that it already holds or
 * that is stale — goes to the LetGoTracker (letgo.ts), whose collect() says
 * which retired segments this thread still keeps in memory. A segment
 * reformatted in place (H8) keeps its object: its memory is not going anywhere.
 */
import { BroadcastChannel, type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import {
  ACTIVE,
  CLASS_COUNT,
  E_CLASS,
  E_GEN,
  E_STATE,
  EMPTY,
  ENTRY_WORDS,
  CREATING,
  G_GEN,
  G_INDEX,
  G_MAGIC,
  G_NONCE,
  G_OCC,
  GEN_MASK,
  H_EPOCH,
  OCC_RETIRED,
  SEGMENT_MAGIC,
  segWordOf,
  TABLE_WORD,
} from './layout.js';
import { type HeldSegment, LetGoTracker } from './letgo.js';
import { type HeapSegment, openSegment } from './segment.js';

export type { HeldSegment } from './letgo.js';

let readable: boolean | undefined;

/** Why alloc() cannot work here (a runtime without a synchronous BroadcastChannel read), and what to do instead. */
export const NO_HEAP =
  "alloc() is not available in this runtime: the pool's shared heap needs to read a BroadcastChannel synchronously (receiveMessageOnPort), which Deno does not allow. Instead, pass the bytes to run() as an ordinary typed array or ArrayBuffer: they are copied to the pool thread (by MessagePort when larger than a slot), or moved without a copy if you list their ArrayBuffer in run()'s transferList. Node and Bun have alloc()";

/**
 * Whether this runtime takes a BroadcastChannel's queued messages synchronously
 * (receiveMessageOnPort), which H1 rests on: Node and Bun do; Deno 2 accepts only a MessagePort.
 */
export function channelsReadable(): boolean {
  if (readable === undefined) {
    const bc = new BroadcastChannel('iocp-pool:probe');
    try {
      receiveMessageOnPort(bc as unknown as MessagePort);
      readable = true;
    } catch {
      readable = false;
    } finally {
      bc.close();
    }
  }
  return readable;
}

/** A segment as one thread hands it to another. */
export interface SegmentGrant {
  index: number;
  gen: number;
  buffer: SharedArrayBuffer;
}

export class SegmentDirectory {
  /** Every segment this thread holds, by table index. */
  readonly segments: (HeapSegment | undefined)[] = [];
  /** The live ones of each size class. */
  readonly byClass: HeapSegment[][] = [];
  /** Per class, the segment allocation tries first. */
  readonly current: (HeapSegment | undefined)[] = [];
  readonly #byBuffer = new Map<SharedArrayBuffer, HeapSegment>();
  readonly #c: Int32Array;
  readonly #entries: number;
  #epoch = -1;
  #bc: BroadcastChannel | undefined;
  /** The objects this thread let go, until they are collected (H7). */
  readonly #released: LetGoTracker;

  constructor(control: Int32Array, entries: number, channel: string) {
    this.#c = control;
    this.#entries = entries;
    this.#released = new LetGoTracker(control, entries, (index) => this.segments[index]);
    for (let k = 0; k < CLASS_COUNT; k++) this.byClass.push([]);
    const bc = new BroadcastChannel(channel);
    // The channel must not keep a thread alive.
    bc.unref();
    bc.onmessage = (event) => this.#adoptMessage((event as MessageEvent).data);
    this.#bc = bc;
  }

  /** H1: a new segment goes to every other thread (call before publishing it). */
  post(grant: SegmentGrant): void {
    this.#bc?.postMessage(grant);
  }

  grants(): SegmentGrant[] {
    this.drain();
    const out: SegmentGrant[] = [];
    for (const s of this.segments) if (s !== undefined) out.push({ index: s.index, gen: s.gen, buffer: s.buffer });
    return out;
  }

  adopt(grants: readonly SegmentGrant[]): void {
    for (const g of grants) this.#adoptMessage(g);
  }

  /** Catches up with the table: one Atomics.load when nothing changed (unless `force`: every record is checked). */
  sync(force = false): void {
    const c = this.#c;
    const epoch = Atomics.load(c, H_EPOCH);
    if (epoch === this.#epoch && !force) return;
    this.#epoch = epoch;
    this.drain();
    for (const list of this.byClass) list.length = 0;
    for (let s of this.segments) {
      if (s === undefined) continue;
      const e = TABLE_WORD + s.index * ENTRY_WORDS;
      const state = Atomics.load(c, e + E_STATE);
      const gen = Atomics.load(c, e + E_GEN);
      const mine = Atomics.load(s.i32, G_GEN); // the memory's own generation: moved if it was reformatted (H8)
      if (gen !== s.gen || state === EMPTY || (Atomics.load(s.i32, G_OCC) & OCC_RETIRED) !== 0) {
        if (state === ACTIVE && gen === mine && gen !== s.gen) {
          // Reformatted in place: the same memory in a new generation (its message may still be queued).
          const again = this.#reopen(s, gen);
          if (again === undefined) continue;
          s = again;
        } else if (state === CREATING && mine === s.gen) {
          // Being created or reformatted: keep it, unlisted, until the entry is published or emptied.
          s.live = false;
          continue;
        } else {
          this.drop(s);
          continue;
        }
      }
      s.live = state === ACTIVE;
      if (s.live) this.byClass[s.cls]!.push(s);
    }
    for (let k = 0; k < CLASS_COUNT; k++) {
      const cur = this.current[k];
      if (cur !== undefined && !cur.live) this.current[k] = undefined;
    }
  }

  /** The segment a reference's segWord names (checked: H6), taking queued messages if this thread does not hold it yet. */
  lookup(segWord: number): HeapSegment | undefined {
    const index = segWord & 0xffff;
    if (index >= this.#entries) return undefined;
    const gen = (segWord >>> 16) & GEN_MASK;
    let seg = this.segments[index];
    if (seg === undefined || (seg.gen & GEN_MASK) !== gen) {
      this.drain();
      seg = this.segments[index];
      if (seg === undefined || (seg.gen & GEN_MASK) !== gen) return undefined;
    }
    return seg;
  }

  /** The segment a buffer is (or is a copy of, sent by postMessage); undefined for any other buffer. */
  segmentOf(buffer: ArrayBufferLike): HeapSegment | undefined {
    const seg = this.#byBuffer.get(buffer as SharedArrayBuffer);
    if (seg !== undefined || !(buffer instanceof SharedArrayBuffer) || buffer.byteLength < 64) return seg;
    // Not one of ours as an object: a postMessage'd view brings a new object over the same memory.
    const h = new Int32Array(buffer, 0, 8);
    if (h[G_MAGIC] !== SEGMENT_MAGIC) return undefined;
    const mine = this.lookup(segWordOf(h[G_INDEX]! & 0xffff, h[G_GEN]!));
    return mine !== undefined &&
      mine.index === h[G_INDEX] &&
      mine.gen === h[G_GEN] &&
      mine.nonce === h[G_NONCE] &&
      mine.buffer.byteLength === buffer.byteLength
      ? mine
      : undefined;
  }

  /**
   * H6: a segment is held only if the table and its own header agree with the geometry of its
   * class and size. A buffer it does not keep is let go (H7).
   */
  open(index: number, gen: number, buffer: SharedArrayBuffer): HeapSegment | undefined {
    if (!(index >>> 0 === index && index < this.#entries)) return this.#letGo(buffer);
    const c = this.#c;
    const e = TABLE_WORD + index * ENTRY_WORDS;
    if (Atomics.load(c, e + E_GEN) !== gen || Atomics.load(c, e + E_STATE) === EMPTY) return this.#letGo(buffer); // stale
    const old = this.segments[index];
    if (old !== undefined && old.gen === gen) {
      if (old.buffer !== buffer) this.#letGo(buffer);
      return old;
    }
    if (old !== undefined && (old.buffer === buffer || this.#sameMemory(old, buffer))) {
      // Reformatted in place (H8): keep the object this thread already has for that memory.
      if (old.buffer !== buffer) this.#letGo(buffer);
      return this.#reopen(old, gen);
    }
    const cls = c[e + E_CLASS]!;
    if (!(cls >= 0 && cls < CLASS_COUNT)) return this.#letGo(buffer);
    const seg = openSegment(buffer, cls, index, gen);
    if (seg === undefined) return this.#letGo(buffer);
    if (old !== undefined) this.drop(old);
    this.#hold(seg);
    return seg;
  }

  drop(s: HeapSegment): void {
    this.#unhold(s);
    this.#letGo(s.buffer);
  }

  /** Takes every queued segment message now (receiveMessageOnPort accepts a BroadcastChannel; its types say MessagePort). */
  drain(): void {
    const bc = this.#bc as unknown as MessagePort | undefined;
    if (bc === undefined) return;
    for (let m = receiveMessageOnPort(bc); m !== undefined; m = receiveMessageOnPort(bc)) this.#adoptMessage(m.message);
  }

  /**
   * H7, this thread's part of a release round: takes its queued messages, drops every segment
   * that is no longer in the table, and waits (a collection asked for, at most COLLECT_WAIT_MS)
   * until every SharedArrayBuffer object it let go (then or before) has been collected. Resolves
   * with the retired segments it still holds after that: an object still reachable from somewhere
   * — a view the application kept after free(), a dead value in a suspended async function's
   * frame — keeps its segment's memory for as long as it is, and the heap must count it.
   */
  collect(): Promise<HeldSegment[]> {
    this.sync(true);
    return this.#released.collect();
  }

  /** Objects let go and not yet seen collected. */
  get uncollected(): number {
    return this.#released.uncollected;
  }

  close(): void {
    this.#bc?.close();
    this.#bc = undefined;
    for (const s of this.segments) if (s !== undefined) this.drop(s);
    // This thread leaves the heap: nothing of it waits any more.
    this.#released.close();
  }

  #hold(seg: HeapSegment): void {
    this.segments[seg.index] = seg;
    this.#byBuffer.set(seg.buffer, seg);
    this.#epoch = -1; // the next sync() files it under its class once it is ACTIVE
  }

  #unhold(s: HeapSegment): void {
    s.live = false;
    if (this.segments[s.index] === s) this.segments[s.index] = undefined;
    if (this.#byBuffer.get(s.buffer) === s) this.#byBuffer.delete(s.buffer);
    if (this.current[s.cls] === s) this.current[s.cls] = undefined;
    const list = this.byClass[s.cls]!;
    const at = list.indexOf(s);
    if (at >= 0) list.splice(at, 1);
  }

  /** H8: the record of `old`'s memory in generation gen (its header now says so), over the same object. */
  #reopen(old: HeapSegment, gen: number): HeapSegment | undefined {
    const cls = Atomics.load(this.#c, TABLE_WORD + old.index * ENTRY_WORDS + E_CLASS);
    this.#unhold(old);
    const seg = cls >= 0 && cls < CLASS_COUNT ? openSegment(old.buffer, cls, old.index, gen) : undefined;
    if (seg === undefined) {
      this.#letGo(old.buffer);
      return undefined;
    }
    this.#hold(seg);
    return seg;
  }

  /** Whether `buffer` (a new object, from a message) is the memory `old` holds: its header was rewritten with the same index and nonce. */
  #sameMemory(old: HeapSegment, buffer: SharedArrayBuffer): boolean {
    if (buffer.byteLength !== old.buffer.byteLength) return false;
    const h = new Int32Array(buffer, 0, 8);
    const mine = old.i32;
    return h[G_INDEX] === mine[G_INDEX] && h[G_NONCE] === mine[G_NONCE] && Atomics.load(h, G_GEN) === Atomics.load(mine, G_GEN);
  }

  #letGo(buffer: SharedArrayBuffer): undefined {
    this.#released.letGo(buffer);
    return undefined;
  }

  #adoptMessage(message: unknown): void {
    if (message === null || typeof message !== 'object') return;
    const { index, gen, buffer } = message as SegmentGrant;
    if (buffer instanceof SharedArrayBuffer) {
      if (typeof index === 'number' && typeof gen === 'number') this.open(index, gen, buffer);
      else this.#letGo(buffer);
    }
  }
}
