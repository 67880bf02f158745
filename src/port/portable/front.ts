/**
 * FRONT: the packets recovered from threads that died holding them (a
 * packet handed to a waiter it never read, or taken off the ring and not yet
 * freed), queued again ahead of the RING. Lock held for every call here.
 *
 * Keeps I1 (every FRONT packet is older than every RING packet, and FRONT_BIT
 * is set in S_DEQ while FRONT holds packets, so takers go to FRONT first).
 *
 * FRONT is a deque used at one end only: a recovered packet goes in front
 * (S_FRONT_HEAD − 1) and takers take from S_FRONT_HEAD, so its order is
 * "most recently recovered first"; every FRONT packet is older than every
 * RING packet. S_FRONT_TAIL stays where it is. Each change commits with one
 * store of S_FRONT_HEAD (after the packet is written, before FRONT_BIT is
 * set), so a holder that dies between two of these writes leaves FRONT
 * whole: at worst FRONT_BIT is stale, which the repair recomputes.
 */
import { PortCorruptedError } from '../errors.js';
import { FRONT_BIT, type Memory, PACKET_F64, S_DEQ, S_FRONT_HEAD, S_FRONT_TAIL } from './layout.js';

/** Packets in FRONT, bounds-checked. */
export function frontCount(m: Memory): number {
  const size = m.geo.frontSize;
  const head = m.i32[S_FRONT_HEAD]!;
  const tail = m.i32[S_FRONT_TAIL]!;
  if (head >>> 0 !== head || head >= size || tail >>> 0 !== tail || tail >= size) {
    throw new PortCorruptedError(`FRONT head ${head} / tail ${tail}, limit ${size}`);
  }
  return tail >= head ? tail - head : tail + size - head;
}

/** FRONT index of the k-th packet from the head (k < frontCount). */
export function frontIndex(m: Memory, k: number): number {
  const i = m.i32[S_FRONT_HEAD]! + k;
  return i >= m.geo.frontSize ? i - m.geo.frontSize : i;
}

/** Copies FRONT packet `index` into out[s..s+2]. */
export function readFront(m: Memory, index: number, out: Float64Array, s: number): void {
  const f = m.geo.frontBase + index * PACKET_F64;
  out[s] = m.f64[f]!;
  out[s + 1] = m.f64[f + 1]!;
  out[s + 2] = m.f64[f + 2]!;
}

/** Puts a packet in front of every queued one. */
export function requeueFront(m: Memory, bytesTransferred: number, completionKey: number, overlapped: number): void {
  const size = m.geo.frontSize;
  if (frontCount(m) >= size - 1) throw new PortCorruptedError(`FRONT is full (${size - 1} packets)`);
  let head = m.i32[S_FRONT_HEAD]! - 1;
  if (head < 0) head += size;
  const f = m.geo.frontBase + head * PACKET_F64;
  m.f64[f] = bytesTransferred;
  m.f64[f + 1] = completionKey;
  m.f64[f + 2] = overlapped;
  Atomics.store(m.i32, S_FRONT_HEAD, head);
  Atomics.or(m.i32, S_DEQ, FRONT_BIT);
}

/** Removes the head packet (FRONT not empty). */
export function removeFrontHead(m: Memory): void {
  const head = m.i32[S_FRONT_HEAD]! + 1;
  Atomics.store(m.i32, S_FRONT_HEAD, head === m.geo.frontSize ? 0 : head);
  if (frontCount(m) === 0) Atomics.and(m.i32, S_DEQ, ~FRONT_BIT);
}

/** Sets FRONT_BIT in S_DEQ from FRONT's count (after a holder died between the two). */
export function syncFrontBit(m: Memory): void {
  if (frontCount(m) > 0) Atomics.or(m.i32, S_DEQ, FRONT_BIT);
  else Atomics.and(m.i32, S_DEQ, ~FRONT_BIT);
}
