// The slot codec over the shared heap, in one thread: what goes in comes out, byte for byte, and no block is left behind.
import { randomFillSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { TAG_FALLBACK, TAG_NUMBER, TAG_SERIAL, TAG_STRING } from '../../src/codec/slot-views.js';
import { SharedHeap } from '../../src/heap/heap.js';
import { arenaGeometry, slotWord, T_LEN, T_TAG } from '../../src/pool/layout.js';
import { SlotCodec } from '../../src/codec/slot-codec.js';
import { P_OFF, P_SEG, TAG_BYTES, TAG_CONSUMED, TAG_HEAP, TAG_JSON, TAG_LATIN1, TAG_PLAIN, TAG_VIEW } from '../../src/codec/slot-decode.js';
import { checkSerialization, type Serialization } from '../../src/codec/serialization.js';
import { ASCII_ROOM, writeAscii } from '../../src/codec/plain-format.js';
import { same } from './same.js';

const KiB = 1024;

const MiB = 1024 * KiB;
const SLOT_BYTES = 256;

function setup(serialization: Serialization = 'structured', heapOptions = {}) {
  const heap = SharedHeap.create(heapOptions);
  const geometry = arenaGeometry(4, SLOT_BYTES);
  const codec = new SlotCodec(new SharedArrayBuffer(geometry.byteLength), 4, geometry.slotBytes, heap, serialization);
  const w = slotWord(geometry.slotBytes, 1);
  const roundTrip = (value: unknown): unknown => {
    const tag = codec.encode(w, value);
    expect(tag).not.toBe(TAG_FALLBACK);
    return codec.decode(w);
  };
  return { heap, codec, w, roundTrip };
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) randomFillSync(b, at, Math.min(65536, n - at));
  return b;
}

/** Every unit below 0x80. */
const isAsciiText = (s: string): boolean => [...s].every((c) => c.charCodeAt(0) < 0x80);

const SIZES = [0, 1, 7, 64, 200, 207, 208, 209, 1000, 4095, 16 * KiB - 1, 16 * KiB, 65535, 65536, 100_000, MiB - 1, MiB, 2 * MiB];

describe('writeAscii (one pass: write as ASCII, and say whether it was)', () => {
  it('says true exactly for ASCII strings, and then wrote their latin1 bytes', () => {
    const b = Buffer.alloc(4096);
    const units = fc.constantFrom('a', 'z', '\u007f', '\u0080', 'é', '\u07ff', '€', '\uffff', '😀', '\ud800', '\udfff');
    fc.assert(
      fc.property(fc.string({ unit: units, maxLength: 200 }), fc.string({ unit: 'binary-ascii', maxLength: 300 }), (odd, ascii) => {
        // ASCII around a few other units, as apps' text mostly is: the writer stops just short of the end.
        const s = ascii + odd + ascii.slice(0, odd.length);
        const isAscii = isAsciiText(s);
        b.fill(0xee);
        expect(writeAscii(b, s, 1, s.length + ASCII_ROOM)).toBe(isAscii);
        if (isAscii) expect(b.subarray(1, 1 + s.length).equals(Buffer.from(s, 'latin1'))).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

describe.each(['structured', 'json'] as const)("the '%s' codec", (serialization) => {
  it('round-trips bytes of 0 B … 2 MB exactly, as the same type, and frees every block', () => {
    const { heap, codec, w, roundTrip } = setup(serialization);
    for (const n of SIZES) {
      const bytes = randomBytes(n);
      const back = roundTrip(bytes) as Uint8Array;
      expect(back).toBeInstanceOf(Uint8Array);
      expect(back.buffer).not.toBeInstanceOf(SharedArrayBuffer); // a private copy, never a view of shared memory
      expect(Buffer.compare(back, bytes)).toBe(0);
      const f64 = new Float64Array(bytes.buffer, 0, n >> 3);
      const f64Back = roundTrip(f64) as Float64Array;
      expect(f64Back).toBeInstanceOf(Float64Array);
      expect(
        Buffer.compare(new Uint8Array(f64Back.buffer, f64Back.byteOffset, f64Back.byteLength), new Uint8Array(f64.buffer, 0, f64.byteLength)),
      ).toBe(0);
    }
    // A Buffer is what the structured clone makes of it: a Uint8Array (over all of its buffer).
    for (const buffer of [Buffer.from('a pooled Buffer'), Buffer.alloc(10, 1), Buffer.alloc(100_000, 2)]) {
      const back = roundTrip(buffer) as Uint8Array;
      const expected = structuredClone(buffer);
      expect(Object.getPrototypeOf(back)).toBe(Uint8Array.prototype);
      expect([back.byteOffset, back.byteLength, back.buffer.byteLength]).toEqual([
        expected.byteOffset,
        expected.byteLength,
        expected.buffer.byteLength,
      ]);
      expect(Buffer.compare(back, buffer)).toBe(0);
    }
    expect(codec.encode(w, randomBytes(100_000)) & TAG_HEAP).toBe(TAG_HEAP);
    codec.decode(w);
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });

  it('round-trips strings of every length and alphabet', () => {
    const { heap, codec, w, roundTrip } = setup(serialization);
    const alphabets = ['a', 'é', '€', '😀', 'ab\u0000c'];
    for (const unit of alphabets) {
      for (const n of [0, 1, 50, 108, 109, 216, 217, 5000, 10 * KiB, 300_000]) {
        const s = unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
        expect(roundTrip(s)).toBe(s);
      }
    }
    expect(codec.encode(w, 'x'.repeat(10 * KiB))).toBe(TAG_LATIN1 | TAG_HEAP);
    codec.decode(w);
    expect(codec.encode(w, 'é'.repeat(10 * KiB))).toBe(TAG_STRING | TAG_HEAP);
    codec.decode(w);
    expect(codec.encode(w, 'short')).toBe(TAG_STRING);
    codec.decode(w);
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });

  it('round-trips cons strings, and strings ASCII but for one unit, at every length around the slot and the largest block', () => {
    const maxBlockBytes = 4 * KiB;
    const { heap, codec, w } = setup(serialization, { maxBlockBytes, maxBytes: 1 * MiB });
    const capacity = codec.capacity;
    // Through the slot or a block; by message (TAG_FALLBACK) exactly when no block can hold it: n bytes if ASCII, else 2n.
    const roundTrip = (s: string): unknown => {
      if (codec.encode(w, s) !== TAG_FALLBACK) return codec.decode(w);
      expect(isAsciiText(s) ? s.length : 2 * s.length).toBeGreaterThan(maxBlockBytes);
      return codec.uncarry(codec.carried(s));
    };
    // The one unit that is not ASCII: at the start, the middle, the end; 2 and 3 bytes in UTF-8, a pair, lone surrogates.
    const odd = ['\u0080', '\u00ff', '\u07ff', '\u0800', '\uffff', '😀', '\ud800', '\udfff'];
    const lengths = new Set<number>();
    for (const around of [capacity / 2, capacity - 4, capacity, maxBlockBytes / 2 - 4, maxBlockBytes / 2, maxBlockBytes - 4, maxBlockBytes]) {
      for (let d = -3; d <= 3; d++) lengths.add(around + d);
    }
    for (const n of lengths) {
      const ascii = 'a'.repeat(n - 1);
      // A cons string (what `a + b` makes), never flattened before the codec sees it.
      const cons = ascii + String.fromCharCode(0x30 + (n % 10));
      expect(roundTrip(cons)).toBe(cons);
      for (const u of odd) {
        for (const s of [u + ascii.slice(u.length), ascii.slice(0, n >> 1) + u + ascii.slice((n >> 1) + u.length), ascii.slice(u.length) + u]) {
          expect(roundTrip(s)).toBe(s);
        }
      }
    }
    // ASCII one byte a character, anything else UTF-16, at sizes where the ASCII check's room decides.
    expect(codec.encode(w, 'x'.repeat(capacity - 4))).toBe(TAG_LATIN1);
    codec.decode(w);
    expect(codec.encode(w, 'x'.repeat(capacity))).toBe(TAG_LATIN1);
    codec.decode(w);
    expect(codec.encode(w, 'x'.repeat(maxBlockBytes))).toBe(TAG_LATIN1 | TAG_HEAP);
    codec.decode(w);
    expect(codec.encode(w, `${'x'.repeat(capacity - 5)}é`)).toBe(TAG_STRING | TAG_HEAP);
    codec.decode(w);
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });

  it('checks and writes a long ASCII string in one pass, in the slot, a block or an object: no Buffer.byteLength walk first', () => {
    const { heap, codec, w } = setup(serialization);
    const byteLength = vi.spyOn(Buffer, 'byteLength');
    try {
      for (const n of [codec.capacity / 2 + 1, codec.capacity - ASCII_ROOM, 4 * codec.capacity, 10 * KiB]) {
        // Fresh cons strings (what `a + b` makes), as an app's payloads are: Buffer.byteLength would flatten and walk each first.
        const s = `${'x'.repeat(n - 4)}${1000 + n}`;
        expect(codec.encode(w, s) & TAG_LATIN1).toBe(TAG_LATIN1);
        expect(codec.decode(w)).toBe(s);
        const o = { s: `${'y'.repeat(n - 4)}${1000 + n}` };
        expect(codec.encode(w, o)).not.toBe(TAG_FALLBACK);
        expect(codec.decode(w)).toEqual(o);
      }
      expect(byteLength).not.toHaveBeenCalled();
    } finally {
      byteLength.mockRestore();
    }
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });

  it('round-trips numbers, booleans, null and undefined inline', () => {
    const { heap, codec, w, roundTrip } = setup(serialization);
    for (const v of [0, -0, 1, -1, 2 ** 31, 1.5, NaN, Infinity, -Infinity, true, false, null, undefined])
      expect(Object.is(roundTrip(v), v)).toBe(true);
    expect(codec.encode(w, 42)).toBe(TAG_NUMBER);
    expect(heap.stats().segments).toBe(0);
    heap.close();
  });

  it('round-trips plain data of every size', () => {
    const { heap, roundTrip } = setup(serialization);
    const objects = Array.from({ length: 16 }, (_, i) => ({
      id: i,
      name: `item-${i}`,
      price: i * 1.25,
      tags: ['a', 'b'],
      active: i % 2 === 0,
      nested: { x: [i, null, 'é€😀'] },
    }));
    expect(roundTrip(objects)).toEqual(objects);
    expect(roundTrip({ a: 1 })).toEqual({ a: 1 });
    const big = Array.from({ length: 20_000 }, (_, i) => ({ i, s: `${i}` }));
    expect(roundTrip(big)).toEqual(big);
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });

  it('passes a view over the heap by reference, top level and nested (structured)', () => {
    const { heap, codec, w, roundTrip } = setup(serialization);
    const view = heap.alloc(5000);
    view.fill(9);
    expect(codec.encode(w, view)).toBe(TAG_VIEW | TAG_HEAP);
    const back = codec.decode(w) as Uint8Array;
    expect(back.buffer).toBe(view.buffer);
    expect(back.byteOffset).toBe(view.byteOffset);
    expect(back.byteLength).toBe(5000);
    if (serialization === 'structured') {
      const f32 = new Float32Array(view.buffer, view.byteOffset + 64, 10);
      const nested = roundTrip({ view, list: [f32], map: new Map([['v', view]]) }) as {
        view: Uint8Array;
        list: Float32Array[];
        map: Map<string, Uint8Array>;
      };
      expect(nested.view.buffer).toBe(view.buffer);
      expect(nested.view.byteOffset).toBe(view.byteOffset);
      expect(nested.list[0]).toBeInstanceOf(Float32Array);
      expect(nested.list[0]!.byteOffset).toBe(view.byteOffset + 64);
      expect(nested.map.get('v')!.byteOffset).toBe(view.byteOffset);
    }
    expect(heap.stats().blocks).toBe(1); // the user's block: still theirs
    heap.free(view);
    heap.close();
  });

  it('says TAG_FALLBACK when the heap cannot take a payload, and leaks nothing', () => {
    const { heap, codec, w } = setup(serialization, { maxBytes: 2 * MiB, maxBlockBytes: 256 * KiB });
    expect(codec.encode(w, new Uint8Array(300 * KiB))).toBe(TAG_FALLBACK);
    expect(codec.encode(w, 'x'.repeat(300 * KiB))).toBe(TAG_FALLBACK);
    expect(codec.encode(w, { a: new Uint8Array(100 * KiB), s: 'x'.repeat(300 * KiB) })).toBe(TAG_FALLBACK);
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });

  it('carries what the heap cannot take as its own encoding, which uncarry() reads as the heap would have', () => {
    const { heap, codec, w } = setup(serialization, { maxBytes: 2 * MiB, maxBlockBytes: 256 * KiB });
    const { codec: roomy, w: w2 } = setup(serialization);
    const plain = { list: Array.from({ length: 30_000 }, (_, i) => ({ i, s: 'é', a: [undefined, -0] })) };
    const other = { when: new Date(0), map: new Map([[1, 2]]), nan: Number.NaN, pad: 'x'.repeat(300 * KiB) };
    const text = 'y'.repeat(300 * KiB);
    for (const [what, value, kind] of [
      ['plain data', plain, 'plain'],
      ['anything else', other, serialization === 'json' ? 'json' : 'value'],
      ['a string', text, 'value'],
    ] as const) {
      expect(codec.encode(w, value), what).toBe(TAG_FALLBACK);
      const carried = codec.carried(value);
      expect(Object.keys(carried), what).toEqual([kind]);
      // Across a MessagePort (a structured clone), then read: what the heap's path gives.
      const back = codec.uncarry(structuredClone(carried));
      expect(roomy.encode(w2, value), what).not.toBe(TAG_FALLBACK);
      expect(back, what).toStrictEqual(roomy.decode(w2));
      expect(codec.carried(value), `${what}: taken once`).toEqual({ value });
    }
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });

  it('gives back the block of a payload never decoded (discard)', () => {
    const { heap, codec, w } = setup(serialization);
    codec.encode(w, { big: 'y'.repeat(50_000), bytes: new Uint8Array(100 * KiB) });
    expect(heap.stats().blocks).toBeGreaterThan(0);
    codec.discard(w);
    expect(heap.stats().blocks).toBe(0);
    codec.discard(w); // consumed: nothing more to free, no error
    const view = heap.alloc(10);
    codec.encode(w, view);
    codec.discard(w); // a view by reference stays its owner's
    expect(heap.stats().blocks).toBe(1);
    heap.free(view);
    heap.close();
  });

  it('checks what it reads from the slot', () => {
    const { heap, codec, w } = setup(serialization);
    codec.encode(w, 'z'.repeat(1000));
    const i32 = codec.i32;
    const [seg, off, len] = [i32[w + P_SEG]!, i32[w + P_OFF]!, i32[w + T_LEN]!];
    i32[w + T_LEN] = 1 << 30;
    expect(() => codec.decode(w)).toThrow(RangeError);
    i32[w + T_LEN] = len;
    i32[w + P_OFF] = off + (1 << 20);
    expect(() => codec.decode(w)).toThrow(RangeError);
    i32[w + P_OFF] = off;
    i32[w + P_SEG] = seg + 5;
    expect(() => codec.decode(w)).toThrow(RangeError);
    i32[w + P_SEG] = seg;
    const tag = i32[w + T_TAG]!;
    expect(codec.decode(w)).toBe('z'.repeat(1000));
    expect(i32[w + T_TAG]).toBe(TAG_CONSUMED); // read: nothing left to discard
    expect(() => codec.decode(w)).toThrow(RangeError);
    i32[w + T_TAG] = tag;
    expect(() => codec.decode(w)).toThrow(/free block/); // a stale reference: its block was freed
    i32[w + T_TAG] = 99;
    expect(() => codec.decode(w)).toThrow(RangeError);
    i32[w + T_TAG] = TAG_BYTES;
    i32[w + T_LEN] = SLOT_BYTES;
    expect(() => codec.decode(w)).toThrow(RangeError);
    heap.close();
  });
});

describe("the 'structured' codec", () => {
  it("keeps today's semantics: Map, Set, Date, RegExp, BigInt, errors, cycles, sparse arrays", () => {
    const { heap, roundTrip } = setup('structured');
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const value = {
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, { b: [3] }],
      ]),
      set: new Set(['x', 'y']),
      date: new Date(1_700_000_000_000),
      re: /a+b/gi,
      big: 12345678901234567890n,
      error: new TypeError('boom'),
      range: new RangeError('out'),
      cyclic,
      // biome-ignore lint/suspicious/noSparseArray: a hole is what this checks
      sparse: [1, , 3],
      typed: [new Int16Array([1, -2, 3]), new BigInt64Array([5n]), new DataView(new ArrayBuffer(4))],
      pad: 'p'.repeat(2000), // into the heap, not the slot
    };
    const back = roundTrip(value) as typeof value;
    expect(back.map).toEqual(value.map);
    expect(back.set).toEqual(value.set);
    expect(back.date.getTime()).toBe(value.date.getTime());
    expect(back.re.source).toBe('a+b');
    expect(back.re.flags).toBe('gi');
    expect(back.big).toBe(value.big);
    expect(back.error).toBeInstanceOf(TypeError);
    expect(back.error.message).toBe('boom');
    expect(back.range).toBeInstanceOf(RangeError);
    expect((back.cyclic as { self: unknown }).self).toBe(back.cyclic);
    expect(1 in back.sparse).toBe(false);
    expect(back.typed[0]).toEqual(new Int16Array([1, -2, 3]));
    expect(back.typed[1]).toEqual(new BigInt64Array([5n]));
    expect(back.typed[2]).toBeInstanceOf(DataView);
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });

  it('returns typed arrays that own their memory (a view into the slot would be overwritten by the next task)', () => {
    const { heap, codec, w, roundTrip } = setup('structured');
    const small = roundTrip({ a: new Uint8Array([1, 2, 3]) }) as { a: Uint8Array };
    expect(codec.encode(w, { a: new Uint8Array(40).fill(9) })).toBe(TAG_SERIAL);
    codec.decode(w);
    expect(Array.from(small.a)).toEqual([1, 2, 3]);
    expect(small.a.buffer).not.toBeInstanceOf(SharedArrayBuffer);
    heap.close();
  });

  it('copies large nested buffers out of line, once however many views share one, and frees their blocks', () => {
    const { heap, codec, w, roundTrip } = setup('structured');
    const bytes = randomBytes(200 * KiB);
    const back = roundTrip({ bytes, list: [bytes.subarray(5, 70_000)], n: 1 }) as { bytes: Uint8Array; list: Uint8Array[] };
    expect(Buffer.compare(back.bytes, bytes)).toBe(0);
    expect(Buffer.compare(back.list[0]!, bytes.subarray(5, 70_000))).toBe(0);
    expect(back.list[0]!.buffer).toBe(back.bytes.buffer);
    expect(back.list[0]!.byteOffset).toBe(5);
    // Out of line: the payload itself is small (the buffer's bytes went into a block of their own).
    codec.encode(w, { bytes, again: bytes.subarray(1) });
    expect(codec.i32[w + T_LEN]).toBeLessThan(1000);
    codec.decode(w);
    // The buffer as a value of its own, before and after a view over it: one buffer either way.
    const buffer = bytes.buffer;
    for (const value of [
      [buffer, new Uint16Array(buffer, 2, 8)],
      [new Uint16Array(buffer, 2, 8), buffer],
    ]) {
      const [x, y] = roundTrip(value) as [ArrayBuffer | Uint16Array, ArrayBuffer | Uint16Array];
      const [ab, view] = (x instanceof ArrayBuffer ? [x, y] : [y, x]) as [ArrayBuffer, Uint16Array];
      expect(view.buffer).toBe(ab);
      expect(ab.byteLength).toBe(200 * KiB);
    }
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });

  it('gives views what the structured clone gives: one buffer for views that share one, offsets, standard types', () => {
    const { heap, codec, w, roundTrip } = setup('structured');
    class Words extends Uint16Array {}
    const buffer = new ArrayBuffer(64);
    new Uint8Array(buffer).forEach((_, i, a) => {
      a[i] = i;
    });
    const cases: [string, unknown][] = [
      ['two views over one buffer', { a: new Uint8Array(buffer, 8, 16), b: new Uint32Array(buffer, 16, 4) }],
      ['a view and its buffer', { buffer, view: new DataView(buffer, 3, 5) }],
      ['a subarray, as the whole value', new Uint8Array(buffer, 4, 8)],
      ['a pooled Buffer', Buffer.from('pooled')],
      ['a Buffer inside', { b: Buffer.from('inside') }],
      ['a subclass', new Words(3)],
      ['a subclass inside', [new Words(buffer, 2, 2)]],
    ];
    for (const [what, value] of cases) expect(same(roundTrip(value), structuredClone(value)), what).toBe(true);
    // Only postMessage keeps a view over a resizable buffer (it may track the buffer's length).
    const resizable = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(8, { maxByteLength: 16 });
    expect(codec.encode(w, new Uint8Array(resizable))).toBe(TAG_FALLBACK);
    expect(codec.encode(w, { v: new Uint8Array(resizable) })).toBe(TAG_FALLBACK);
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });

  it('throws for what cannot be cloned, leaking nothing', () => {
    const { heap, codec, w } = setup('structured');
    expect(() => codec.encode(w, { f() {} })).toThrow();
    expect(() => codec.encode(w, { big: new Uint8Array(100 * KiB), f: () => 1 })).toThrow();
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });
});

describe("the 'json' codec", () => {
  it('sends objects as JSON text and parses them back; encodeStructured keeps errors their type', () => {
    const { heap, codec, w, roundTrip } = setup('json');
    expect(codec.encode(w, { a: [1, 2] })).toBe(TAG_PLAIN); // plain data: the fast path, as JSON would give it
    expect(codec.decode(w)).toEqual({ a: [1, 2] });
    expect(codec.encode(w, { a: [1, 2], d: new Date(0) }) & TAG_JSON).toBe(TAG_JSON); // the rest: JSON text
    expect(codec.decode(w)).toEqual({ a: [1, 2], d: '1970-01-01T00:00:00.000Z' });
    expect(roundTrip({ d: new Date(0) })).toEqual({ d: '1970-01-01T00:00:00.000Z' });
    expect(roundTrip([undefined, () => 1])).toEqual([null, null]);
    expect(() => codec.encode(w, () => 1)).toThrow(TypeError);
    expect(() => codec.encode(w, Symbol('s'))).toThrow(TypeError);
    expect(() => codec.encode(w, { n: 1n })).toThrow(TypeError);
    codec.encodeStructured(w, new RangeError('kept'));
    expect(codec.decode(w)).toBeInstanceOf(RangeError);
    expect(heap.stats().blocks).toBe(0);
    heap.close();
  });

  it('is chosen by name only', () => {
    expect(checkSerialization(undefined)).toBe('structured');
    expect(checkSerialization('json')).toBe('json');
    expect(() => checkSerialization('msgpack')).toThrow(RangeError);
  });
});
