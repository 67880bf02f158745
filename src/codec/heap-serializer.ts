/**
 * v8 serialization (the structured clone of postMessage: Map, Set, Date,
 * RegExp, typed arrays, errors, cycles…) that knows the shared heap.
 *
 * Node's DefaultSerializer writes every ArrayBufferView as a host object
 * (_writeHostObject) of its own bytes: two views over one ArrayBuffer arrive
 * over two buffers, a view's byteOffset is lost, a Buffer stays a Buffer —
 * not what structuredClone and postMessage give. These subclasses write a view
 * as one of two records instead:
 *
 *   MARK_BUFFER  type, byteOffset, byteLength, out-of-line?, then the view's
 *                ArrayBuffer as a value of its own (writeValue): the structured
 *                clone's answer — the whole buffer, copied once per payload
 *                however many views (and plain references) share it, V8's own
 *                object references keeping them one buffer; the view's type is
 *                its standard one (a Buffer or a subclass arrives as the typed
 *                array it extends, as with structuredClone).
 *                Out of line (a buffer of OUT_OF_LINE bytes or more, its first
 *                view, a heap with room): + transfer id, segWord, offset,
 *                byteLength of a heap block the buffer's bytes were copied
 *                into, straight from the buffer. The buffer is registered as
 *                "transferred" under that id, so V8 writes only the id for it;
 *                the reader copies the block into a new ArrayBuffer, frees the
 *                block, and registers that buffer under the id before V8 reads
 *                it. (The buffer met as a plain value earlier: V8 writes a
 *                reference to that instead, and the block was a spare copy.)
 *   MARK_VIEW    type, segWord, offset, byteLength   a view over the shared heap
 *                (from alloc()): crosses by reference, the reader gets a view of
 *                the same bytes — nothing copied, nothing freed by the reader.
 *
 * A view the records cannot express — over a resizable ArrayBuffer (a view may
 * track its length), of a type this table does not know (Float16Array), or
 * over a SharedArrayBuffer that is not the heap's — throws BY_MESSAGE, and the
 * value goes by MessagePort, where postMessage gives its own answer.
 *
 * The reader never returns a view into the memory it reads (Node's reader
 * does, for aligned views: here that would be the arena or a heap segment,
 * overwritten as soon as the memory is reused): every buffer is a new one.
 */
import { types } from 'node:util';
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
 * Thrown by HeapSerializer for what only postMessage clones right: a SharedArrayBuffer that is not
 * the heap's (itself, or under a view: postMessage shares it, a copy would not), a view over a
 * resizable ArrayBuffer, a view type the table does not know. The slot codec catches it and sends
 * the value by MessagePort, so it keeps postMessage's meaning.
 */
export const BY_MESSAGE: unique symbol = Symbol('a value only postMessage clones right');

export const MARK_VIEW = 1000;
export const MARK_BUFFER = 1002;
/** Buffers at least this large are copied out of line (see MARK_BUFFER). */
export const OUT_OF_LINE = 16 * 1024;

/** The getter of %TypedArray%.prototype[Symbol.toStringTag]: a typed array's standard type name, whatever its class. */
const typedArrayName = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get! as (
  this: unknown,
) => string | undefined;
const TYPE_BY_NAME = new Map<string, number>();
for (let i = 0; i < VIEW_TYPES.length; i++) if (i !== BUFFER_TYPE) TYPE_BY_NAME.set((VIEW_TYPES[i] as unknown as { name: string }).name, i);

/**
 * The index (Node's table) of the standard type a view is — a Buffer, or a subclass, is the typed
 * array it extends, as the structured clone sees it — or -1 for a type the table lacks.
 */
export function baseViewType(view: ArrayBufferView): number {
  const ctor = view.constructor;
  // The exact standard constructors first: one comparison for the common Uint8Array.
  for (let i = 0; i < VIEW_TYPES.length; i++) if (VIEW_TYPES[i] === ctor && i !== BUFFER_TYPE) return i;
  const name = typedArrayName.call(view);
  if (name === undefined) return types.isDataView(view) ? DATAVIEW_TYPE : -1;
  return TYPE_BY_NAME.get(name) ?? -1;
}

/** Whether a buffer is a resizable ArrayBuffer (a view over one may track its length: only postMessage keeps that). */
export function isResizable(buffer: ArrayBufferLike): boolean {
  return (buffer as { resizable?: boolean }).resizable === true;
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

/** A private copy of `bytes` as a view of type t over all of a new ArrayBuffer (a Buffer for a Buffer, like v8.deserialize). */
export function copyView(t: number, bytes: Uint8Array): ArrayBufferView {
  const ctor = VIEW_TYPES[t];
  if (ctor === undefined) throw new RangeError(`payload names view type ${t}`);
  const n = bytes.byteLength;
  if (t === BUFFER_TYPE) {
    const b = Buffer.allocUnsafe(n);
    b.set(bytes);
    return b;
  }
  const size = ctor.BYTES_PER_ELEMENT ?? 1;
  if (n % size !== 0) throw new RangeError(`payload view of ${n} bytes is not a whole number of elements`);
  return new ctor(copyBuffer(bytes), 0, t === DATAVIEW_TYPE ? n : n / size);
}

/** A new ArrayBuffer of exactly bytes.byteLength bytes, holding them. */
export function copyBuffer(bytes: Uint8Array): ArrayBuffer {
  const n = bytes.byteLength;
  if (!tuned && n >= LARGE_COPY) tuneMalloc();
  // Unpooled (a buffer of its own, exactly n bytes) and not zero-filled: the copy writes every byte.
  const b = Buffer.allocUnsafeSlow(n);
  b.set(bytes);
  return b.buffer as ArrayBuffer;
}

/** Node's own _writeHostObject (not in its type declarations). */
const defaultWriteHostObject = (DefaultSerializer.prototype as unknown as { _writeHostObject(view: ArrayBufferView): void })._writeHostObject;

export class HeapSerializer extends DefaultSerializer {
  /** Blocks this serializer filled out of line: freed by the reader, or by abandon() if the payload is dropped. */
  outOfLine: number[] | undefined;
  /** Large buffers met so far (their first view decided whether they go out of line). */
  #large: Set<ArrayBufferLike> | undefined;
  #transfers = 0;

  constructor(readonly heap: SharedHeap | undefined) {
    super();
  }

  _getSharedArrayBufferId(): number {
    throw BY_MESSAGE;
  }

  _writeHostObject(view: NodeJS.TypedArray | DataView): void {
    if (!ArrayBuffer.isView(view)) {
      // Another host object (a Blob on Node 20…): Node's own method refuses it, and the pool tries postMessage.
      defaultWriteHostObject.call(this, view);
      return;
    }
    const t = baseViewType(view);
    if (t < 0) throw BY_MESSAGE;
    const buffer = view.buffer;
    if (buffer instanceof SharedArrayBuffer) {
      const seg = this.heap?.segmentOf(buffer);
      if (seg === undefined) throw BY_MESSAGE;
      this.#words(MARK_VIEW, t, seg.segWord, view.byteOffset, view.byteLength);
      return;
    }
    if (isResizable(buffer)) throw BY_MESSAGE;
    this.#words(MARK_BUFFER, t, view.byteOffset, view.byteLength);
    const n = buffer.byteLength;
    const heap = this.heap;
    let off = -1;
    if (n >= OUT_OF_LINE && heap !== undefined) {
      const large = (this.#large ??= new Set());
      if (!large.has(buffer)) {
        large.add(buffer);
        off = heap.allocRaw(n);
      }
    }
    if (off < 0) {
      this.writeUint32(0);
    } else {
      const seg = heap!.lastSegment!;
      seg.u8.set(new Uint8Array(buffer), off);
      (this.outOfLine ??= []).push(seg.segWord, off);
      const id = this.#transfers++;
      this.transferArrayBuffer(id, buffer as ArrayBuffer);
      this.#words(1, id, seg.segWord, off);
      this.writeUint32(n);
    }
    this.writeValue(buffer);
  }

  /** The payload will not be read: give back the out-of-line blocks. */
  abandon(): void {
    const list = this.outOfLine;
    if (list === undefined || this.heap === undefined) return;
    this.outOfLine = undefined;
    for (let i = 0; i < list.length; i += 2) this.heap.freeRaw(list[i]!, list[i + 1]!);
  }

  #words(a: number, b: number, c: number, d: number, e?: number): void {
    this.writeUint32(a);
    this.writeUint32(b);
    this.writeUint32(c);
    this.writeUint32(d);
    if (e !== undefined) this.writeUint32(e);
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
    if (mark === MARK_BUFFER) {
      const t = this.readUint32();
      const byteOffset = this.readUint32();
      const byteLength = this.readUint32();
      if (this.readUint32() !== 0) {
        // Out of line: the buffer's bytes are in a block; V8 reads the buffer as this transfer id.
        const id = this.readUint32();
        const segWord = this.readUint32();
        const offset = this.readUint32();
        const n = this.readUint32();
        const seg = this.#heap().resolve(segWord, offset, n); // H6: checked before use
        let copy: ArrayBuffer;
        try {
          copy = copyBuffer(new Uint8Array(seg.buffer, offset, n));
        } finally {
          this.heap!.freeRaw(segWord, offset);
        }
        this.transferArrayBuffer(id, copy);
      }
      const buffer = this.readValue();
      if (!(buffer instanceof ArrayBuffer)) throw new RangeError('payload view is over something that is not an ArrayBuffer');
      return makeView(t, buffer, byteOffset, byteLength);
    }
    if (mark === MARK_VIEW) {
      const t = this.readUint32();
      const segWord = this.readUint32();
      const offset = this.readUint32();
      const byteLength = this.readUint32();
      const seg = this.#heap().resolve(segWord, offset, byteLength); // H6: checked before use
      return makeView(t, seg.buffer, offset, byteLength);
    }
    // Node's own format (v8.serialize): type index, byte length, the bytes.
    const byteLength = this.readUint32();
    const at = (this as unknown as { _readRawBytes(n: number): number })._readRawBytes(byteLength);
    const input = this.input;
    return copyView(mark, input.subarray(at, at + byteLength));
  }

  #heap(): SharedHeap {
    if (this.heap === undefined) throw new RangeError('payload refers to a shared heap this thread does not have');
    return this.heap;
  }
}
