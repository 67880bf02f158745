// Error records: anything thrown is recorded without throwing, and rebuilt as what was thrown.
import { describe, expect, it } from 'vitest';
import { errorToRecord, recordToError } from '../../src/codec/error-record.js';

/** What the other thread gets: the record, cloned as postMessage or the heap would, then rebuilt. */
function across(thrown: unknown): unknown {
  return recordToError(structuredClone(errorToRecord(thrown)));
}

describe('errorToRecord / recordToError', () => {
  it('keeps type, message, stack, properties and a cause chain, cycles included', () => {
    const inner = new RangeError('inner');
    const outer = Object.assign(new TypeError('outer', { cause: inner }), { code: 'E_X', detail: { n: 1 } });
    (inner as Error & { cause: unknown }).cause = outer;
    const back = across(outer) as TypeError & { code: string; detail: unknown; cause: RangeError & { cause: unknown } };
    expect(back).toBeInstanceOf(TypeError);
    expect(back.stack).toBe(outer.stack);
    expect([back.code, back.detail]).toEqual(['E_X', { n: 1 }]);
    expect(back.cause).toBeInstanceOf(RangeError);
    expect(back.cause.cause).toBe(back);
    expect('notSent' in back).toBe(false);
  });

  it('gives back anything else thrown as itself, whatever it looks like', () => {
    for (const value of [undefined, null, 0, 'text', { __iocpError: true, name: 'TypeError', message: 'm' }, { error: { name: 'E' } }, { ref: 0 }]) {
      expect(across(value)).toEqual(value);
    }
  });

  it('never throws: a chain of 10,000 causes, a Proxy whose traps throw, a name that is no string', () => {
    let deep = new Error('0');
    for (let i = 1; i < 10_000; i++) deep = new Error(String(i), { cause: deep });
    const back = across(deep) as Error & { notSent?: string[] };
    let depth = 1;
    let at: Error & { notSent?: string[] } = back;
    while (at.cause !== undefined) {
      at = at.cause as Error;
      depth++;
    }
    expect(depth).toBe(100);
    expect(at.notSent).toEqual(['cause: the chain of causes is longer than 100']);

    const trap = () => {
      throw new Error('trap');
    };
    const proxy = new Proxy(new Error('p'), { get: trap, ownKeys: trap, has: trap });
    const fromProxy = across(proxy) as Error & { notSent: string[] };
    expect(fromProxy).toBeInstanceOf(Error);
    expect(fromProxy.notSent.length).toBeGreaterThanOrEqual(3);
    const hostile = new Proxy(new Error('q'), { getPrototypeOf: trap });
    expect(() => errorToRecord(hostile)).not.toThrow();

    const odd = Object.assign(new Error('odd'), { name: 42 });
    expect((across(odd) as Error).name).toBe('42');
    const symbolic = Object.assign(new Error('sym'), { name: Symbol('s') });
    expect((across(symbolic) as Error).name).toBe('Symbol(s)');
  });
});
