/**
 * Packets as the portable port hands them to user code: objects made from
 * three float64 read out of shared memory (a slot's mailbox, a ring cell, or
 * the scratch array a lock holder copied them into).
 */
import type { CompletionPacket } from '../types.js';

/**
 * A number read from a Float64Array is a heap double even when it is 7.
 * Handed to user code as is, it trains their functions on doubles (double
 * arithmetic, boxed results: 1.6× slower on a recursive integer function
 * here). Integers come back in V8's small-integer form; -0 and the rest as
 * they are.
 */
export function num(value: number): number {
  const int = value | 0;
  return int === value && (int !== 0 || 1 / value > 0) ? int : value;
}

/** The packet in f64[at..at+2]. */
export function packetAt(f64: Float64Array, at: number): CompletionPacket {
  return { bytesTransferred: num(f64[at]!), completionKey: num(f64[at + 1]!), overlapped: num(f64[at + 2]!) };
}
