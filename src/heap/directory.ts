/**
 * One thread's view of the shared heap's segments: which SharedArrayBuffers
 * it holds, by table index, by buffer and by size class, kept in step with
 * the shared table (H1, H4 in layout.ts) through the heap's
 * BroadcastChannel.
 *
 * A creator posts a new segment on the channel before it publishes it; the
 * post queues the message in every subscribed thread at once (Node's
 * BroadcastChannel delivers to each subscriber's port synchronously). So a
 * thread that sees a segment ACTIVE, or a reference into it, finds it with
 * receiveMessageOnPort — no waiting, no event loop. When the event loop does
 * run, the channel's message event adopts what arrives.
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
  G_GEN,
  G_INDEX,
  G_MAGIC,
  G_NONCE,
  G_OCC,
  GEN_MASK,
  H_EPOCH,
  OCC_RETIRED,
  SEGMENT_MAGIC,
  segmentGeometry,
  segWordOf,
  TABLE_WORD,
} from './layout.js';
import { type HeapSegment, openSegment } from './segment.js';

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
  /** Bytes of segments this thread let go of since releaseMemory() last ran. */
  dropped = 0;
  readonly #byBuffer = new Map<SharedArrayBuffer, HeapSegment>();
  readonly #c: Int32Array;
  readonly #entries: number;
  #epoch = -1;
  #bc: BroadcastChannel | undefined;

  constructor(control: Int32Array, entries: number, channel: string) {
    this.#c = control;
    this.#entries = entries;
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

  /** Catches up with the table: one Atomics.load when nothing changed. */
  sync(): void {
    const c = this.#c;
    const epoch = Atomics.load(c, H_EPOCH);
    if (epoch === this.#epoch) return;
    this.#epoch = epoch;
    this.drain();
    for (const list of this.byClass) list.length = 0;
    for (const s of this.segments) {
      if (s === undefined) continue;
      const e = TABLE_WORD + s.index * ENTRY_WORDS;
      const state = Atomics.load(c, e + E_STATE);
      if (Atomics.load(c, e + E_GEN) !== s.gen || state === EMPTY || (Atomics.load(s.i32, G_OCC) & OCC_RETIRED) !== 0) {
        this.drop(s);
        continue;
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

  /** H6: a segment is held only if the table and its own header agree with the geometry of its class. */
  open(index: number, gen: number, buffer: SharedArrayBuffer): HeapSegment | undefined {
    if (!(index >>> 0 === index && index < this.#entries)) return undefined;
    const c = this.#c;
    const e = TABLE_WORD + index * ENTRY_WORDS;
    if (Atomics.load(c, e + E_GEN) !== gen || Atomics.load(c, e + E_STATE) === EMPTY) return undefined; // stale
    const old = this.segments[index];
    if (old !== undefined && old.gen === gen) return old;
    const cls = c[e + E_CLASS]!;
    if (!(cls >= 0 && cls < CLASS_COUNT)) return undefined;
    const seg = openSegment(buffer, segmentGeometry(cls), index, gen);
    if (seg === undefined) return undefined;
    if (old !== undefined) this.drop(old);
    this.segments[index] = seg;
    this.#byBuffer.set(buffer, seg);
    this.#epoch = -1; // the next sync() files it under its class once it is ACTIVE
    return seg;
  }

  drop(s: HeapSegment): void {
    s.live = false;
    if (this.segments[s.index] === s) {
      this.segments[s.index] = undefined;
      this.dropped += s.buffer.byteLength;
    }
    this.#byBuffer.delete(s.buffer);
    if (this.current[s.cls] === s) this.current[s.cls] = undefined;
    const list = this.byClass[s.cls]!;
    const at = list.indexOf(s);
    if (at >= 0) list.splice(at, 1);
  }

  /** Takes every queued segment message now (receiveMessageOnPort accepts a BroadcastChannel; its types say MessagePort). */
  drain(): void {
    const bc = this.#bc as unknown as MessagePort | undefined;
    if (bc === undefined) return;
    for (let m = receiveMessageOnPort(bc); m !== undefined; m = receiveMessageOnPort(bc)) this.#adoptMessage(m.message);
  }

  close(): void {
    this.#bc?.close();
    this.#bc = undefined;
    for (const s of this.segments) if (s !== undefined) this.drop(s);
  }

  #adoptMessage(message: unknown): void {
    if (message === null || typeof message !== 'object') return;
    const { index, gen, buffer } = message as SegmentGrant;
    if (typeof index === 'number' && typeof gen === 'number' && buffer instanceof SharedArrayBuffer) this.open(index, gen, buffer);
  }
}
