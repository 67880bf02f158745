/**
 * The port's HEADER (./layout.ts): written once by the thread that creates
 * the port, before the buffer is shared, and read-only after. Attaching
 * checks every field against the buffer it came with, so a value that is
 * not a port's buffer is refused with a TypeError instead of being read out
 * of bounds.
 */
import { badHandle, MAX_CAPACITY, MAX_THREADS_LIMIT, type PortConfig } from '../options.js';
import {
  CELL_WORDS,
  type Geometry,
  geometry,
  H_BYTE_LENGTH,
  H_CAPACITY,
  H_CONCURRENCY,
  H_MAGIC,
  H_MAX_THREADS,
  H_RECORDS,
  H_RING_SIZE,
  H_SPIN,
  H_VERSION,
  LAYOUT_VERSION,
  MAGIC,
  STACK_BASE,
} from './layout.js';

/** A new port's buffer: its header written, every ring cell free for its first lap (C_SEQ = its position). */
export function createPortBuffer(config: PortConfig): { buffer: SharedArrayBuffer; geo: Geometry } {
  const geo = geometry(config.capacity, config.maxThreads);
  const buffer = new SharedArrayBuffer(geo.byteLength);
  const i32 = new Int32Array(buffer);
  i32[H_MAGIC] = MAGIC;
  i32[H_VERSION] = LAYOUT_VERSION;
  i32[H_CAPACITY] = config.capacity;
  i32[H_RING_SIZE] = geo.ringSize;
  i32[H_MAX_THREADS] = config.maxThreads;
  i32[H_CONCURRENCY] = config.concurrency;
  i32[H_SPIN] = config.spinCount;
  i32[H_BYTE_LENGTH] = geo.byteLength;
  i32[H_RECORDS] = geo.records;
  for (let c = 0; c < geo.ringSize; c++) i32[geo.cellBase + c * CELL_WORDS] = c;
  return { buffer, geo };
}

/** Validates a buffer that claims to be a port; every header field is bounds-checked. */
export function readHeader(buffer: SharedArrayBuffer): { geo: Geometry; spin: number } {
  const bad = (why: string): never => {
    throw badHandle(why);
  };
  if (buffer.byteLength < (STACK_BASE + 1) * 4) bad('its buffer is too small');
  const i32 = new Int32Array(buffer, 0, STACK_BASE);
  if (i32[H_MAGIC] !== MAGIC) bad('its buffer has no port header');
  if (i32[H_VERSION] !== LAYOUT_VERSION) bad(`layout version ${i32[H_VERSION]} is not ${LAYOUT_VERSION}`);
  const capacity = i32[H_CAPACITY]!;
  const maxThreads = i32[H_MAX_THREADS]!;
  const concurrency = i32[H_CONCURRENCY]!;
  const spin = i32[H_SPIN]!;
  if (capacity < 1 || capacity > MAX_CAPACITY) bad(`capacity ${capacity} out of range`);
  if (maxThreads < 1 || maxThreads > MAX_THREADS_LIMIT) bad(`maxThreads ${maxThreads} out of range`);
  if (concurrency < 1 || concurrency > MAX_THREADS_LIMIT) bad(`concurrency ${concurrency} out of range`);
  if (spin < 0) bad(`spin count ${spin} out of range`);
  const geo = geometry(capacity, maxThreads);
  if (
    i32[H_RING_SIZE] !== geo.ringSize ||
    i32[H_RECORDS] !== geo.records ||
    i32[H_BYTE_LENGTH] !== geo.byteLength ||
    buffer.byteLength !== geo.byteLength
  ) {
    bad('its header does not match its size');
  }
  return { geo, spin };
}
