// A port whose header is valid but whose state words were damaged by
// something other than the port's code: every call returns or throws
// PortCorruptedError, promptly. It never hangs, spins, or crashes. Each
// damage runs in its own worker, so a call that hangs fails the test (the
// worker is ended) instead of hanging the run.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import * as L from '../../src/port/portable/layout.js';

const FIXTURE = new URL('./fixtures/tamper.mjs', import.meta.url);
const libUrl = new URL('../../dist/index.js', import.meta.url).href;
/** Per call: the slowest honest answer is the lock check (~100 ms after the lock is found taken). */
const CALL_LIMIT_MS = 2000;
const layout = {
  S_DEQ: L.S_DEQ,
  S_ENQ: L.S_ENQ,
  S_LOCK: L.S_LOCK,
  S_WAITING: L.S_WAITING,
  S_FRONT_HEAD: L.S_FRONT_HEAD,
  S_CLOSED: L.S_CLOSED,
  POS_MASK: L.POS_MASK,
  CELL_WORDS: L.CELL_WORDS,
  geo: L.geometry(64, 8),
};
const CALLS = ['get(0)', 'getMany(4, 0)', 'getAsync(0)', 'post()', 'close()', 'stats()'];

const DAMAGE = [
  'S_DEQ = -1',
  'a lock word naming a thread that does not exist',
  'a cell sequence number 7 ahead of the head',
  'a fake position count within capacity',
  'a fake position count beyond capacity',
  'S_WAITING = 99999',
  'S_FRONT_HEAD = -5',
  'S_CLOSED = 7',
];

interface Outcome {
  call: string;
  returned: boolean;
  corrupted?: boolean;
  error?: string;
  ms: number;
}

function run(tamper: string): Promise<Outcome[]> {
  const control = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(FIXTURE, { workerData: { libUrl, layout, tamper, control: control.buffer } });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const at = Atomics.load(control, 0);
      void worker.terminate();
      reject(new Error(`${tamper}: ${CALLS[at] ?? `call ${at}`} did not return within ${CALL_LIMIT_MS} ms (hung)`));
    }, CALL_LIMIT_MS * CALLS.length);
    worker.once('message', (results: Outcome[]) => {
      clearTimeout(timer);
      resolve(results);
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

describe('CompletionPort with damaged state words (portable backend)', () => {
  for (const tamper of DAMAGE) {
    it(`${tamper}: every call returns or throws PortCorruptedError, promptly`, async () => {
      const results = await run(tamper);
      expect(results.map((r) => r.call)).toEqual(CALLS);
      for (const r of results) {
        expect(r.returned || r.corrupted, `${r.call} threw ${r.error}`).toBe(true);
        expect(r.ms, `${r.call} took ${r.ms} ms`).toBeLessThan(CALL_LIMIT_MS);
      }
    });
  }
});
