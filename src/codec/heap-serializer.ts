/**
 * v8 serialization (the structured clone of postMessage: Map, Set, Date,
 * RegExp, typed arrays, errors, cycles…) that knows the shared heap.
 *
 * Node's DefaultSerializer writes every ArrayBufferView as a host object
 * (_writeHostObject: type index, byte length, the bytes). These subclasses
 * keep that format for ordinary views and add two records:
 *
 *   MARK_VIEW  type, segWord, offset, byteLength   a view over the shared heap
 *              (from alloc()): crosses by reference, the reader gets a view of
 *              the same bytes — nothing copied, nothing freed by the reader.
 *   MARK_COPY  type, segWord, offset, byteLength   an ordinary view of at least
 *              OUT_OF_LINE bytes, copied once straight into its own heap block
 *              instead of into V8's growing buffer (and from there into the
 *              payload block): the reader copies it out and frees the block.
 *
 * And one fix: Node's reader returns views *into the buffer it reads from*
 * when they are aligned. Reading from shared memory, that would hand the
 * receiver a view of the whole arena or heap segment, overwritten as soon as
 * the memory is reused. Every ordinary view is copied out here.
 */
import { DefaultDeserializer, DefaultSerializer } from 'node:v8';
import type { SharedHeap } from '../heap/heap.js';

/** Node's type indices (lib/v8.js), which the default format writes first. */
type ViewCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): ArrayBufferView; BYTES_PER_ELEMENT?: number };
export const VIEW_TYPES: readonly ViewCtor[] = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  DataView as unknown as ViewCtor,
  Buffer as unknown as ViewCtor,
  BigInt64Array,
  BigUint64Array,
];
const BUFFER_TYPE = 10;
const DATAVIEW_TYPE = 9;

/**
 * Thrown by HeapSerializer for a SharedArrayBuffer that is not the heap's (itself, or under a
 * view): V8's serializer would refuse it or copy it, where postMessage shares it. The slot codec
 * catches it and sends the value by MessagePort, so it keeps postMessage's meaning.
 */
export const SHARED_ELSEWHERE: unique symbol = Symbol('a SharedArrayBuffer outside the heap');

export const MARK_VIEW = 1000;
export const MARK_COPY = 1001;
/** Views at least this large are copied out of line (see MARK_COPY). */
export const OUT_OF_LINE = 16 * 1024;

/** The type index of a view (Node's table), or -1. */
export function viewType(view: ArrayBufferView): number {
  if (Buffer.isBuffer(view)) return BUFFER_TYPE;
  const ctor = view.constructor;
  for (let i = 0; i < VIEW_TYPES.length; i++) if (VIEW_TYPES[i] === ctor) return i;
  return -1;
}

/** A view of type t over [offset, offset + byteLength) of buffer (no copy). */
export function makeView(t: number, buffer: ArrayBufferLike, offset: number, byteLength: number): ArrayBufferView {
  const ctor = VIEW_TYPES[t];
  if (ctor === undefined) throw new RangeError(`payload names view type ${t}`);
  if (t === BUFFER_TYPE) return Buffer.from(buffer, offset, byteLength);
  const size = ctor.BYTES_PER_ELEMENT ?? 1;
  if (byteLength % size !== 0 || offset % size !== 0) throw new RangeError(`payload view (${offset}, ${byteLength}) is not aligned to its type`);
  return new ctor(buffer, offset, t === DATAVIEW_TYPE ? byteLength : byteLength / size);
}

/** Copies at least this large tune the allocator once (see tuneMalloc). */
const LARGE_COPY = 64 * 1024;
/** Below glibc's cap on the dynamic mmap threshold (32 MiB, DEFAULT_MMAP_THRESHOLD_MAX). */
const TUNE_BYTES = 31 * 1024 * 1024;
let tuned = process.platform !== 'linux';

/**
 * Every large view read out of the heap is a new ArrayBuffer, and those die in batches, one
 * batch per garbage collection. glibc's malloc gives memory back to the system as soon as more
 * than its trim threshold (128 KiB) is free at the top of a heap, so under the defaults each
 * batch went back and the next copies faulted all their pages in again: a 64 KiB echo ran at
 * 25 k tasks/s, a 1 MiB echo at 514/s. glibc raises its thresholds itself once it sees a large
 * chunk come and go (freeing an mmap'd chunk of up to 32 MiB sets the mmap threshold to its size
 * and the trim threshold to twice that: "dynamic" in mallopt(3)). So the first large copy in a
 * thread drops a 31 MiB buffer it never touches (address space only, no resident page); the next
 * collection frees it and the allocator keeps up to 62 MiB of freed memory for reuse. Measured
 * (paired runs, 2 threads, echo): 64 KiB ×1.63, 1 MiB ×2.3 — what GLIBC_TUNABLES would give.
 * Elsewhere than Linux, or on another allocator, it changes nothing.
 */
function tuneMalloc(): void {
  tuned = true;
  try {
    void Buffer.allocUnsafeSlow(TUNE_BYTES);
  } catch {
    // No address space to spare: the copies run at the allocator's defaults.
  }
}

/** A private copy of `bytes` as a view of type t (a Buffer for a Buffer, like v8.deserialize). */
export function copyView(t: number, bytes: Uint8Array): ArrayBufferView {
  const ctor = VIEW_TYPES[t];
  if (ctor === undefined) throw new RangeError(`payload names view type ${t}`);
  const n = bytes.byteLength;
  if (!tuned && n >= LARGE_COPY) tuneMalloc();
  if (t === BUFFER_TYPE) {
    const b = Buffer.allocUnsafe(n);
    b.set(bytes);
    return b;
  }
  const size = ctor.BYTES_PER_ELEMENT ?? 1;
  if (n % size !== 0) throw new RangeError(`payload view of ${n} bytes is not a whole number of elements`);
  // Unpooled and not zero-filled: the copy writes every byte.
  const b = Buffer.allocUnsafeSlow(n);
  b.set(bytes);
  return new ctor(b.buffer, 0, t === DATAVIEW_TYPE ? n : n / size);
}

/** Node's own _writeHostObject (not in its type declarations). */
const defaultWriteHostObject = (DefaultSerializer.prototype as unknown as { _writeHostObject(view: ArrayBufferView): void })._writeHostObject;

export class HeapSerializer extends DefaultSerializer {
  /** Blocks this serializer filled out of line: freed by the reader, or by abandon() if the payload is dropped. */
  outOfLine: number[] | undefined;

  constructor(readonly heap: SharedHeap | undefined) {
    super();
  }

  _getSharedArrayBufferId(): number {
    throw SHARED_ELSEWHERE;
  }

  _writeHostObject(view: NodeJS.TypedArray | DataView): void {
    const heap = this.heap;
    if (heap !== undefined) {
      const buffer = view.buffer;
      if (buffer instanceof SharedArrayBuffer) {
        const seg = heap.segmentOf(buffer);
        if (seg === undefined) throw SHARED_ELSEWHERE;
        this.#record(MARK_VIEW, view, seg.segWord, view.byteOffset);
        return;
      }
      const n = view.byteLength;
      if (n >= OUT_OF_LINE) {
        const off = heap.allocRaw(n);
        if (off >= 0) {
          const seg = heap.lastSegment!;
          seg.u8.set(new Uint8Array(buffer, view.byteOffset, n), off);
          (this.outOfLine ??= []).push(seg.segWord, off);
          this.#record(MARK_COPY, view, seg.segWord, off);
          return;
        }
      }
    }
    defaultWriteHostObject.call(this, view);
  }

  /** The payload will not be read: give back the out-of-line blocks. */
  abandon(): void {
    const list = this.outOfLine;
    if (list === undefined || this.heap === undefined) return;
    this.outOfLine = undefined;
    for (let i = 0; i < list.length; i += 2) this.heap.freeRaw(list[i]!, list[i + 1]!);
  }

  #record(mark: number, view: ArrayBufferView, segWord: number, offset: number): void {
    const t = viewType(view);
    if (t < 0) throw new TypeError(`cannot serialize a ${view.constructor.name}`);
    this.writeUint32(mark);
    this.writeUint32(t);
    this.writeUint32(segWord);
    this.writeUint32(offset);
    this.writeUint32(view.byteLength);
  }
}

/** Reads v8.serialize output and HeapSerializer output alike; never returns a view into its input. */
export class HeapDeserializer extends DefaultDeserializer {
  constructor(
    readonly input: Uint8Array,
    readonly heap: SharedHeap | undefined,
  ) {
    super(input);
  }

  _readHostObject(): unknown {
    const mark = this.readUint32();
    if (mark === MARK_VIEW || mark === MARK_COPY) {
      const t = this.readUint32();
      const segWord = this.readUint32();
      const offset = this.readUint32();
      const byteLength = this.readUint32();
      const heap = this.heap;
      if (heap === undefined) throw new RangeError('payload refers to a shared heap this thread does not have');
      const seg = heap.resolve(segWord, offset, byteLength); // H6: checked before use
      if (mark === MARK_VIEW) return makeView(t, seg.buffer, offset, byteLength);
      const copy = copyView(t, new Uint8Array(seg.buffer, offset, byteLength));
      heap.freeRaw(segWord, offset);
      return copy;
    }
    const byteLength = this.readUint32();
    const at = (this as unknown as { _readRawBytes(n: number): number })._readRawBytes(byteLength);
    const input = this.input;
    return copyView(mark, input.subarray(at, at + byteLength));
  }
}
