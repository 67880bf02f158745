/**
 * One native port instance's out-parameter memory, in the process heap
 * (koffi passes addresses): the 32 bytes GetQueuedCompletionStatus writes
 * (bytes@0, key@8, overlapped@16, and removed@24 for the Ex call), and the
 * OVERLAPPED_ENTRY array getMany hands to GetQueuedCompletionStatusEx.
 * Allocated on first use, kept for the instance's next calls.
 */
import type { Win32 } from './win32.js';

export class NativeBuffers {
  readonly #w: Win32;
  /** Address of the out-parameters, 0 until outBlock(). */
  out = 0n;
  /** The out-parameters as 64-bit words ([1] key, [2] overlapped) and 32-bit ([0] bytes, [6] removed). */
  big: BigUint64Array | undefined;
  u32: Uint32Array | undefined;
  /** The OVERLAPPED_ENTRY array (32 bytes an entry), its length, and a view of it. */
  entries = 0n;
  #entriesCount = 0;
  entriesView: DataView | undefined;

  constructor(w: Win32) {
    this.#w = w;
  }

  outBlock(): bigint {
    if (this.out === 0n) {
      const w = this.#w;
      const p = w.HeapAlloc(w.processHeap, 8, 32n);
      if (p === 0n) throw new RangeError('HeapAlloc for GetQueuedCompletionStatus out-parameters failed');
      this.out = p;
      this.big = new BigUint64Array(w.view(p, 32));
      this.u32 = new Uint32Array(w.view(p, 32));
    }
    return this.out;
  }

  /** Room for `count` OVERLAPPED_ENTRYs; false if the heap has none. */
  ensureEntries(count: number): boolean {
    if (this.#entriesCount >= count) return true;
    this.freeEntries();
    const w = this.#w;
    const size = Math.max(count, 16);
    const p = w.HeapAlloc(w.processHeap, 0, BigInt(size * 32));
    if (p === 0n) return false;
    this.entries = p;
    this.#entriesCount = size;
    this.entriesView = new DataView(w.view(p, size * 32));
    return true;
  }

  freeEntries(): void {
    const w = this.#w;
    if (this.entries !== 0n) w.HeapFree(w.processHeap, 0, this.entries);
    this.entries = 0n;
    this.#entriesCount = 0;
    this.entriesView = undefined;
  }
}
