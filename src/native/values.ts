/**
 * A native packet's values. completionKey and overlapped are JS numbers; a
 * posted packet carries their IEEE-754 bits as the ULONG_PTRs, so any
 * finite number round-trips exactly. An overlapped whose bits would look
 * like a user-mode pointer (only tiny positive subnormals) is moved into NaN
 * space, which no finite number uses, so a dequeued OVERLAPPED below 2^47 is
 * always one of this library's I/O blocks (./overlapped.ts) and nothing else.
 */
import { USER_ADDRESS_LIMIT } from './overlapped.js';

/** A completion key no finite number encodes to (a NaN bit pattern): the close sentinel. */
export const SENTINEL_KEY = 0x7ff4_c105_ed00_0001n;
/** Tag for posted overlapped values that would otherwise look like a user-mode pointer. */
const NAN_TAG = 0x7ff8_0000_0000_0000n;
const NAN_MASK = 0xfff8_0000_0000_0000n;
const LOW51 = (1n << 51n) - 1n;

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

export function encodeNumber(x: number): bigint {
  f64[0] = x;
  return u64[0]!;
}

export function decodeNumber(bits: bigint): number {
  u64[0] = bits;
  return f64[0]!;
}

export function encodeOverlapped(x: number): bigint {
  f64[0] = x;
  const bits = u64[0]!;
  return bits !== 0n && bits < USER_ADDRESS_LIMIT ? bits | NAN_TAG : bits;
}

export function decodeOverlapped(bits: bigint): number {
  if ((bits & NAN_MASK) === NAN_TAG && (bits & LOW51) < USER_ADDRESS_LIMIT && (bits & LOW51) !== 0n) bits &= LOW51;
  u64[0] = bits;
  return f64[0]!;
}
