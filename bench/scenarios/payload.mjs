/**
 * Scenario (8): payloads as apps make them. An echo handler (the result is
 * the task, so the payload crosses both ways), 2 threads, the pipe kept full
 * (1,000 or 100 tasks in flight), every result checked. Every task is a fresh
 * value, made when it is submitted, as an app builds its requests: a pool
 * cannot reuse what it learnt of the previous task (an object's shape, a flat
 * string, a buffer it already copied). Each measurement runs for at least 2 s
 * (and n tasks) after a warm-up of at least 1 s.
 *
 *   payload-objects[-100]     16 small objects built per task (931 B by v8.serialize)
 *   payload-objects-json      the same with iocp-pool's serialization: 'json'
 *                             (the peers as in payload-objects: structured clone)
 *   payload-string[-100]      a 10 KB string made per task by concatenation,
 *                             'x'.repeat(10240) + i: a V8 cons string (two
 *                             parts, not yet flat), as `a + b` and template
 *                             literals make them
 *   payload-bytes64k[-1000]   a fresh 64 KB Uint8Array per task, copied both ways
 *   payload-alloc64k          iocp-pool: a 64 KB view from pool.alloc(), which
 *                             crosses by reference (alloc, run, free per task);
 *                             the peers copy a fresh 64 KB as in payload-bytes64k
 *   payload-bytes1m           a fresh 1 MB Uint8Array per task, copied both ways
 *
 * Quick mode leaves workerpool out (time: CI runs it).
 *
 * A pool without a feature a row needs (alloc(), the 'json' codec) says so
 * in its result ({ unavailable }) and the row is reported "not available",
 * not failed.
 */
import { ADAPTERS } from '../adapters/index.mjs';
import { keepFullFor } from '../lib/drive.mjs';
import { bytes, smallObjects } from '../lib/payloads.mjs';
import { poolSubjects } from '../lib/subjects.mjs';

const rate = [{ key: 'rate', label: 'throughput', unit: 'tasks/s', better: 'higher' }];
const THREADS = 2;

/**
 * Per payload: how to make task i (a fresh value), and how to check its echo
 * cheaply but surely (what marks task i, and content at spread positions).
 */
const PAYLOADS = {
  objects: () => ({
    task: (i) => {
      const value = smallObjects();
      value[0].id = i;
      return value;
    },
    check: (r, t) => Array.isArray(r) && r.length === 16 && r[0].id === t[0].id && r[15].name === 'user-15' && r[7].age === 27,
  }),
  string10k: () => {
    const body = 'x'.repeat(10240);
    return { task: (i) => body + i, check: (r, t) => r === t };
  },
  bytes64k: () => copied(64 * 1024),
  bytes1m: () => copied(1024 * 1024),
};

/** A fresh n-byte array per task: the pattern copied in (a memcpy, as reading a file chunk would fill it), task i's number in its first bytes. */
function copied(n) {
  const pattern = bytes(n);
  return {
    task: (i) => {
      const value = new Uint8Array(n);
      value.set(pattern);
      value[0] = i & 255;
      value[1] = (i >> 8) & 255;
      return value;
    },
    check: (r, t) => r instanceof Uint8Array && r[0] === t[0] && r[1] === t[1] && sameAt(r, pattern, 2),
  };
}

/** Equal length, and equal at 16 positions spread over [from, length). */
function sameAt(a, b, from) {
  if (a.length !== b.length) return false;
  for (let k = 0; k < 16; k++) {
    const i = from + Math.floor((k * (a.length - 1 - from)) / 15);
    if (a[i] !== b[i]) return false;
  }
  return true;
}

/** iocp-pool's alloc() row: a fresh block per task, marked so the echo can be checked, freed when it comes back. */
function allocated(pool, n) {
  return {
    task: (i) => {
      const view = pool.alloc(n);
      view[0] = i & 255;
      view[n - 1] = (i >> 8) & 255;
      return view;
    },
    check: (r, t) => {
      const ok = r instanceof Uint8Array && r.buffer !== undefined && r.byteLength === n && r[0] === t[0] && r[n - 1] === t[n - 1];
      pool.free(r);
      return ok;
    },
  };
}

export default {
  id: 'payload',
  cases: ({ quick }) => {
    const size = (full, q) => (quick ? q : full);
    // Each measurement: at least n tasks and ms milliseconds, after a warm-up of at least warm tasks and warmMs.
    const time = { ms: size(2000, 150), warmMs: size(1000, 100) };
    const objects = { payload: 'objects', n: size(10_000, 800), warm: size(2_000, 200), window: 1000, ...time };
    const string = { payload: 'string10k', n: size(10_000, 800), warm: size(2_000, 200), window: 1000, ...time };
    const k64 = { payload: 'bytes64k', n: size(3_000, 200), warm: size(600, 50), window: 100, ...time };
    const m1 = { payload: 'bytes1m', n: size(300, 30), warm: size(60, 10), window: 100, ...time };
    // Quick mode (CI's smoke run, ≲ 1 min for this scenario) leaves workerpool out: the slowest
    // to start, and never the best peer here.
    const subjects = () => poolSubjects().filter((x) => !quick || x.id !== 'workerpool');
    const peersCopying = subjects().map((s) =>
      s.kind === 'iocp' ? { ...s, label: 'iocp-pool (alloc, by reference)' } : { ...s, label: `${s.label} (copying)` },
    );
    const note =
      'Echo handler (the result is the task), 2 threads, the pipe kept full; every task a fresh value made when it is submitted; every result checked. Each subject in a fresh process.';
    const at = (params, window) => ({ ...params, window, n: Math.max(params.n, size(2, 1) * window), warm: Math.max(params.warm, window) });
    const echo = (id, letter, what, params, target) => ({
      id,
      title: `(8${letter}) echo ${what}, 2 threads, ${params.window.toLocaleString('en-US')} in flight`,
      note,
      subjects: subjects(),
      compareTo: 'peer',
      metrics: rate,
      params,
      targets: target ? [target] : [],
    });
    const objectsTarget = { metric: 'rate', label: '16 small objects, default codec ≥ 2 × best peer', ratioAtLeast: 2 };
    const stringTarget = { metric: 'rate', label: '10 KB string ≥ 3 × best peer', ratioAtLeast: 3 };
    const bytesTarget = { metric: 'rate', label: '64 KB copied ≥ 1.5 × best peer', ratioAtLeast: 1.5 };
    const OBJECTS = '16 small objects built per task (931 B serialized)';
    const STRING = "a 10 KB string made per task, 'x'.repeat(10240) + i (a cons string)";
    const BYTES = 'a fresh 64 KB Uint8Array per task (copied)';
    return [
      echo('payload-objects', 'a', OBJECTS, objects, objectsTarget),
      echo('payload-objects-100', 'b', OBJECTS, at(objects, 100), { ...objectsTarget, label: `${objectsTarget.label}, 100 in flight` }),
      {
        ...echo('payload-objects-json', 'c', OBJECTS, { ...objects, options: { serialization: 'json' }, needs: 'json' }),
        title: `(8c) echo 16 small objects built per task, iocp-pool with serialization 'json', ${objects.window.toLocaleString('en-US')} in flight`,
        note: `${note} The peers use their structured clone, as in (8a).`,
        targets: [{ metric: 'rate', label: "16 small objects, 'json' codec ≥ 4 × best peer", ratioAtLeast: 4 }],
      },
      echo('payload-string', 'd', STRING, string, stringTarget),
      echo('payload-string-100', 'e', STRING, at(string, 100), { ...stringTarget, label: `${stringTarget.label}, 100 in flight` }),
      echo('payload-bytes64k', 'f', BYTES, k64, bytesTarget),
      echo('payload-bytes64k-1000', 'g', BYTES, at(k64, 1000), { ...bytesTarget, label: `${bytesTarget.label}, 1,000 in flight` }),
      {
        id: 'payload-alloc64k',
        title: `(8h) echo 64 KB: iocp-pool through pool.alloc() (by reference) vs the peers copying a fresh array, ${k64.window} in flight`,
        note: `${note} iocp-pool: alloc(65536) per task, run(view), free(view) when the echo is back; the peers copy a fresh 64 KB both ways.`,
        subjects: peersCopying,
        compareTo: 'peer',
        metrics: rate,
        params: { ...k64, needs: 'alloc' },
        targets: [{ metric: 'rate', label: '64 KB through pool.alloc ≥ 10 × best peer copying 64 KB', ratioAtLeast: 10 }],
      },
      // No target: four copies of 1 MB a task (in and out on each side) cost the same everywhere.
      echo('payload-bytes1m', 'i', 'a fresh 1 MB Uint8Array per task (copied)', m1, {
        metric: 'rate',
        label: '1 MB bytes, copied (for the record: no target)',
        ratioAtLeast: 0,
        info: true,
      }),
    ];
  },

  async measure(_caseId, subject, { payload, n, warm, window, ms, warmMs, options, needs }) {
    const iocp = subject === 'iocp-pool';
    const pool = await ADAPTERS[subject].create({ threads: THREADS, job: 'echo', ...(iocp && options ? { options } : {}) });
    if (iocp && needs === 'json' && pool.pool.serialization !== 'json') {
      return { unavailable: "this build's ThreadPool has no serialization: 'json' option" };
    }
    if (iocp && needs === 'alloc' && typeof pool.pool.alloc !== 'function') {
      return { unavailable: "this build's ThreadPool has no alloc()" };
    }
    const source = iocp && needs === 'alloc' ? allocated(pool.pool, 64 * 1024) : PAYLOADS[payload]();
    await keepFullFor(pool.run, source, { tasks: warm, ms: warmMs, window });
    const run = await keepFullFor(pool.run, source, { tasks: n, ms, window });
    return { rate: (run.done / run.ms) * 1000, info: { ms: run.ms, n: run.done, window } };
  },
};
