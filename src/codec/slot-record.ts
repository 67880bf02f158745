/**
 * Where a value lives in a slot: the record the codec reads and writes.
 *
 * A slot is a run of bytes in a SharedArrayBuffer, 8-aligned, whose first
 * Int32 word is `w`. The codec owns three parts of it; whoever lays out the
 * slot (the pool's arena: pool/layout.ts) puts its own words around them and
 * must not write these:
 *
 * ```
 *  Int32 word  w + T_TAG    the value's tag (slot-views.ts 0-7; slot-decode.ts kinds and flags)
 *  Int32 word  w + T_LEN    the payload's length (bytes, or UTF-16 units for TAG_STRING)
 *  bytes       4w + PAYLOAD …  the payload: the value itself, or a heap block's reference
 *                              (slot-decode.ts P_SEG, P_OFF, P_TYPE)
 * ```
 *
 * The payload area is 8-aligned (PAYLOAD is a multiple of 8 and slots start
 * on 64-byte lines) so a number is one Float64 store.
 */

/** Int32 offset of the tag word from the slot's first word. */
export const T_TAG = 2;
/** Int32 offset of the length word from the slot's first word. */
export const T_LEN = 3;
/** Byte offset of the payload from the slot's first byte (8-aligned). */
export const PAYLOAD = 40;
