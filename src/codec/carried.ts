/**
 * What crosses a MessagePort in place of a payload that neither its slot nor the shared heap could
 * take (slot-codec.ts TAG_FALLBACK), or that never went through the codec (a task with a
 * transferList, a value the codec refused that postMessage can clone).
 *
 * When the codec made an encoding of the value — plain-data bytes (plain-*.ts), or JSON text for
 * 'json' serialization — that encoding crosses, and the receiver decodes it as the slot or the heap
 * would have: a payload's value never depends on the path it took. Otherwise the value itself
 * crosses, and postMessage's structured clone is the answer the structured paths match.
 */
import type { PlainDecoder } from './plain-decode.js';

export type Carried = { value: unknown } | { json: string } | { plain: Uint8Array<ArrayBuffer> };

/** What to transfer with a Carried: the buffer of its plain-data bytes (a copy of its own), else nothing. */
export function transferOf(carried: Carried): ArrayBuffer[] | undefined {
  return 'plain' in carried ? [carried.plain.buffer] : undefined;
}

/** The value a Carried stands for (undefined: nothing was sent); plain bytes are read with `decoder`. */
export function uncarry(carried: Carried | undefined, decoder: PlainDecoder): unknown {
  if (carried === undefined) return undefined;
  if ('value' in carried) return carried.value;
  if ('json' in carried) return JSON.parse(carried.json);
  const bytes = carried.plain;
  if (!(bytes instanceof Uint8Array)) throw new RangeError('a payload sent by message is not what was sent');
  const start = bytes.byteOffset;
  return decoder.decode(new Uint8Array(bytes.buffer), new DataView(bytes.buffer), Buffer.from(bytes.buffer), start, start + bytes.byteLength);
}
