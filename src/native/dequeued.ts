/**
 * What GetQueuedCompletionStatus(Ex) returned, turned into what the caller
 * gets: a packet (a posted one, or one of this library's I/O blocks, copied
 * out and freed), null on WAIT_TIMEOUT, or an error. The caller is still
 * inside (the ledger's L2): the handle value is valid, and the sentinels
 * close() posted may be posted back.
 */
import { PortClosedError } from '../port/errors.js';
import type { CompletionPacket } from '../port/types.js';
import { N_IO_PENDING, N_QUEUED, type Ledger } from './ledger.js';
import { completeBlock, type IoCompletionPacket, USER_ADDRESS_LIMIT } from './overlapped.js';
import { decodeNumber, decodeOverlapped, SENTINEL_KEY } from './values.js';
import { ERROR_ABANDONED_WAIT_0, ERROR_INVALID_HANDLE, INFINITE, WAIT_TIMEOUT, type Win32 } from './win32.js';

/** One GQCS result: a packet, null (timeout), or the error (PortClosedError for the close sentinel). */
export function dequeued(w: Win32, ledger: Ledger, ok: number, error: number, bytes: number, key: bigint, ov: bigint): CompletionPacket | null {
  if (!ok && ov === 0n) {
    if (error === WAIT_TIMEOUT) return null;
    throw failure(ledger, 'GetQueuedCompletionStatus', error);
  }
  if (key === SENTINEL_KEY) throw new PortClosedError();
  return toPacket(w, ledger, bytes, key, ov, ok ? 0 : error);
}

/** A dequeued entry that is not the sentinel: out of the queued (or pending I/O) count. */
export function toPacket(w: Win32, ledger: Ledger, bytes: number, key: bigint, ov: bigint, error: number): CompletionPacket | IoCompletionPacket {
  const completionKey = decodeNumber(key);
  if (ov !== 0n && ov < USER_ADDRESS_LIMIT) {
    // One of our I/O blocks: copy out, free it.
    Atomics.sub(ledger.i32, N_IO_PENDING, 1);
    return completeBlock(w, ov, bytes, completionKey, error);
  }
  Atomics.sub(ledger.i32, N_QUEUED, 1);
  return { bytesTransferred: bytes, completionKey, overlapped: decodeOverlapped(ov) };
}

/**
 * The `removed` OVERLAPPED_ENTRYs GetQueuedCompletionStatusEx wrote into
 * `v`, as packets. Each close sentinel among them is one blocked thread's
 * wake-up: one is kept (PortClosedError) only if no packet came with it,
 * and the rest are posted back for the other waiters.
 */
export function fromEntries(w: Win32, ledger: Ledger, port: bigint, v: DataView, removed: number): CompletionPacket[] {
  const out: CompletionPacket[] = [];
  let sentinels = 0;
  for (let i = 0; i < removed; i++) {
    const e = i * 32;
    const key = v.getBigUint64(e, true);
    const ov = v.getBigUint64(e + 8, true);
    const bytes = v.getUint32(e + 24, true);
    if (key === SENTINEL_KEY) {
      sentinels++;
      continue;
    }
    out.push(toPacket(w, ledger, bytes, key, ov, 0));
  }
  if (sentinels > 0) {
    const mine = out.length === 0 ? 1 : 0;
    for (let i = mine; i < sentinels; i++) w.PostQueuedCompletionStatus(port, 0, SENTINEL_KEY, 0n);
    if (out.length === 0) throw new PortClosedError();
  }
  return out;
}

/** A failed wait: PortClosedError if the port was closed under it, else the Win32 error. */
export function failure(ledger: Ledger, call: string, error: number): Error {
  if (error === ERROR_ABANDONED_WAIT_0 || error === ERROR_INVALID_HANDLE || ledger.closed) {
    return new PortClosedError(`${call} failed with Win32 error ${error}: the port was closed`);
  }
  return new Error(`${call} failed: Win32 error ${error}`);
}

/** A timeout in ms as GQCS takes it. */
export function toMs(timeout: number): number {
  if (timeout === Infinity) return INFINITE;
  return Math.min(Math.ceil(timeout), INFINITE - 1);
}
