// The plain-data fast path (plain-*.ts) gives exactly what the slow path gives: structuredClone for
// 'structured', JSON for 'json' — checked on generated values (fast-check), and on the edge cases
// it must refuse (identity, holes, array properties, "__proto__", proxies, getters that delete).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TAG_FALLBACK } from '../../src/codec/slot-views.js';
import { SharedHeap } from '../../src/heap/heap.js';
import { arenaGeometry, slotWord, T_TAG } from '../../src/pool/layout.js';
import type { Serialization } from '../../src/codec/serialization.js';
import { SlotCodec } from '../../src/codec/slot-codec.js';
import { KIND, TAG_PLAIN } from '../../src/codec/slot-decode.js';
import { cloneable, plainData } from './arbitraries.js';
import { same } from './same.js';

const heap = SharedHeap.create();
const geometry = arenaGeometry(4, 256);

/**
 * Encodes and decodes value with a new codec (a refused value makes a codec skip the fast path
 * for the next few: each value here gets a fresh try); says whether the fast path took it.
 */
function roundTrip(serialization: Serialization, value: unknown): { value: unknown; plain: boolean } {
  const c = new SlotCodec(new SharedArrayBuffer(geometry.byteLength), 4, geometry.slotBytes, heap, serialization);
  const w = slotWord(geometry.slotBytes, 2);
  const tag = c.encode(w, value);
  expect(tag).not.toBe(TAG_FALLBACK);
  const plain = (c.i32[w + T_TAG]! & KIND) === TAG_PLAIN;
  return { value: c.decode(w), plain };
}

describe('the fast path gives what structuredClone gives (structured)', () => {
  it('on generated plain data', () => {
    let fast = 0;
    let objects = 0;
    fc.assert(
      fc.property(plainData.value, (value) => {
        const out = roundTrip('structured', value);
        if (value !== null && typeof value === 'object') objects++;
        if (out.plain) fast++;
        return same(out.value, structuredClone(value));
      }),
      { numRuns: 3000 },
    );
    expect(fast).toBeGreaterThan(objects / 5); // the fast path did take many (the rest hold holes, repeats, odd keys…)
  });

  it('on anything fast-check makes (Maps, typed arrays, boxed values, null prototypes…)', () => {
    fc.assert(
      fc.property(cloneable(4), (value) => same(roundTrip('structured', value).value, structuredClone(value))),
      { numRuns: 2000 },
    );
  });

  it('refuses what it cannot prove plain, and the slow path gives the exact clone', () => {
    const o = { x: 1 };
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    const match = 'abc'.match(/b/)!; // an array with index, input, groups
    const extra = Object.assign([1, 2], { note: 'kept' });
    const date = new Date(5);
    const cases: [string, unknown][] = [
      ['an object twice', [o, o]],
      ['a cycle', cyclic],
      ['a RegExp match', match],
      ['an array with a property', extra],
      ['a Date twice', [date, date]],
      ['a Date twice, in an object', { d: date, again: date }],
      ['a key __proto__', JSON.parse('{"__proto__": 1}')],
      ['a null prototype', Object.create(null)],
      [
        'a class instance',
        new (class A {
          x = 1;
        })(),
      ],
      // biome-ignore lint/suspicious/noSparseArray: a hole is what this checks
      ['a hole', [1, , 3]],
      ['too deep', JSON.parse('['.repeat(100) + ']'.repeat(100))],
    ];
    for (const [what, value] of cases) {
      const out = roundTrip('structured', value);
      expect(out.plain, what).toBe(false);
      expect(same(out.value, structuredClone(value)), what).toBe(true);
    }
    // A Proxy: V8's serializer refuses it; so does the codec (the pool then tries postMessage).
    expect(() => roundTrip('structured', new Proxy({ a: 1 }, {}))).toThrow();
    expect(() => roundTrip('structured', { p: new Proxy([], {}) })).toThrow();
  });

  it('reads a getter once when it takes the value, and refuses an object whose getter deletes a key', () => {
    let calls = 0;
    const withGetter = {
      get a() {
        calls++;
        return 'A';
      },
      b: 2,
    };
    expect(roundTrip('structured', withGetter)).toEqual({ value: { a: 'A', b: 2 }, plain: true });
    expect(calls).toBe(1);
    const deleting: Record<string, unknown> = {
      get first() {
        delete deleting.second;
        return 1;
      },
      second: 2,
    };
    const out = roundTrip('structured', deleting);
    expect(out.plain).toBe(false);
    expect(out.value).toEqual({ first: 1 }); // V8 skips the deleted key
  });
});

describe('the fast path gives what JSON gives (json)', () => {
  it('on generated plain data', () => {
    let fast = 0;
    let objects = 0;
    fc.assert(
      fc.property(plainData.value, (value) => {
        // Numbers, strings, booleans, null and undefined as the whole value travel as themselves
        // with either codec (what the fast path does is the question here).
        if (value === null || typeof value !== 'object') return true;
        let expected: unknown;
        try {
          expected = JSON.parse(JSON.stringify(value));
        } catch {
          expect(() => roundTrip('json', value)).toThrow(TypeError); // what JSON cannot encode, the codec refuses
          return true;
        }
        const out = roundTrip('json', value);
        objects++;
        if (out.plain) fast++;
        return same(out.value, expected);
      }),
      { numRuns: 3000 },
    );
    expect(fast).toBeGreaterThan(objects / 6); // fewer: JSON's Dates and undefined members go through JSON itself
  });
});
