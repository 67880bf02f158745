/**
 * Scenario (7): real payloads. An echo handler (the result is the task, so
 * the payload crosses both ways), 2 threads, the pipe kept full: 1,000 tasks
 * in flight (100 for 64 KB and 1 MB), every result checked. Each measurement
 * runs for at least 2 s (and n tasks) after a warm-up of at least 1 s.
 *
 *   payload-objects       16 small objects (931 B by v8.serialize)
 *   payload-objects-json  the same with iocp-pool's serialization: 'json'
 *                         (the peers as in payload-objects: structured clone)
 *   payload-string        a 10 KB string
 *   payload-bytes64k      a 64 KB Uint8Array, copied both ways
 *   payload-alloc64k      iocp-pool: a 64 KB view from pool.alloc(), which
 *                         crosses by reference (alloc, run, free per task);
 *                         the peers copy 64 KB as in payload-bytes64k
 *   payload-bytes1m       a 1 MB Uint8Array, copied both ways
 *
 * Quick mode leaves workerpool out (time: CI runs it).
 *
 * A pool without a feature a row needs (alloc(), the 'json' codec) says so
 * in its result ({ unavailable }) and the row is reported "not available",
 * not failed.
 */
import { ADAPTERS } from '../adapters/index.mjs';
import { bytes, smallObjects, string10k } from '../lib/payloads.mjs';
import { poolSubjects } from '../lib/subjects.mjs';

const rate = [{ key: 'rate', label: 'throughput', unit: 'tasks/s', better: 'higher' }];
const THREADS = 2;

/** Per payload: how to make the task, and how to check the echo cheaply but surely (identity of content at spread positions). */
const PAYLOADS = {
  objects: () => {
    const value = smallObjects();
    return { task: () => value, check: (r) => Array.isArray(r) && r.length === 16 && r[15].name === 'user-15' && r[7].age === 27 };
  },
  string10k: () => {
    const value = string10k();
    return { task: () => value, check: (r) => r === value };
  },
  bytes64k: () => copied(64 * 1024),
  bytes1m: () => copied(1024 * 1024),
};

function copied(n) {
  const value = bytes(n);
  return { task: () => value, check: (r) => r instanceof Uint8Array && sameAt(r, value) };
}

function sameAt(a, b) {
  if (a.length !== b.length) return false;
  for (let k = 0; k < 16; k++) {
    const i = Math.floor((k * (a.length - 1)) / 15);
    if (a[i] !== b[i]) return false;
  }
  return true;
}

/** iocp-pool's alloc() row: a fresh block per task, marked so the echo can be checked, freed when it comes back. */
function allocated(pool, n) {
  let i = 0;
  return {
    task: () => {
      const view = pool.alloc(n);
      view[0] = i & 255;
      view[n - 1] = (i >> 8) & 255;
      i++;
      return view;
    },
    check: (r, t) => {
      const ok = r instanceof Uint8Array && r.buffer !== undefined && r.byteLength === n && r[0] === t[0] && r[n - 1] === t[n - 1];
      pool.free(r);
      return ok;
    },
  };
}

/**
 * Keeps `window` tasks in flight (a new one is submitted as each settles)
 * until at least `tasks` were submitted and `ms` have passed, then lets the
 * last ones settle; every result is checked. Resolves with { done, ms }.
 * Time as well as a count: a fast subject measured on a count alone would be
 * timed over a few milliseconds, still warming up (its JIT, its heap).
 */
function keepFullWith(run, source, { tasks, ms, window }) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let sent = 0;
    let done = 0;
    let failed = false;
    let stopped = false;
    const submit = () => {
      sent++;
      const task = source.task();
      run(task).then((r) => onDone(r, task), onError);
    };
    const onDone = (r, task) => {
      if (failed) return;
      if (!source.check(r, task)) {
        failed = true;
        return reject(new Error(`task ${done}: the echo differs from the task`));
      }
      done++;
      if (!stopped && sent >= tasks && performance.now() - t0 >= ms) stopped = true;
      if (!stopped) submit();
      else if (done === sent) resolve({ done, ms: performance.now() - t0 });
    };
    const onError = (e) => {
      if (!failed) reject(e);
      failed = true;
    };
    for (let i = 0; i < window; i++) submit();
  });
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
    const note = 'Echo handler (the result is the task), 2 threads, the pipe kept full; every result checked. Each subject in a fresh process.';
    return [
      {
        id: 'payload-objects',
        title: `(8a) echo 16 small objects (931 B serialized), 2 threads, ${objects.window} in flight`,
        note,
        subjects: subjects(),
        compareTo: 'peer',
        metrics: rate,
        params: objects,
        targets: [{ metric: 'rate', label: '16 small objects, default codec ≥ 2 × best peer', ratioAtLeast: 2 }],
      },
      {
        id: 'payload-objects-json',
        title: `(8b) echo 16 small objects, iocp-pool with serialization 'json', ${objects.window} in flight`,
        note: `${note} The peers use their structured clone, as in (8a).`,
        subjects: subjects(),
        compareTo: 'peer',
        metrics: rate,
        params: { ...objects, options: { serialization: 'json' }, needs: 'json' },
        targets: [{ metric: 'rate', label: "16 small objects, 'json' codec ≥ 4 × best peer", ratioAtLeast: 4 }],
      },
      {
        id: 'payload-string',
        title: `(8c) echo a 10 KB string, 2 threads, ${string.window} in flight`,
        note,
        subjects: subjects(),
        compareTo: 'peer',
        metrics: rate,
        params: string,
        targets: [{ metric: 'rate', label: '10 KB string ≥ 3 × best peer', ratioAtLeast: 3 }],
      },
      {
        id: 'payload-bytes64k',
        title: `(8d) echo a 64 KB Uint8Array (copied), 2 threads, ${k64.window} in flight`,
        note,
        subjects: subjects(),
        compareTo: 'peer',
        metrics: rate,
        params: k64,
        targets: [{ metric: 'rate', label: '64 KB copied ≥ 1.5 × best peer', ratioAtLeast: 1.5 }],
      },
      {
        id: 'payload-alloc64k',
        title: `(8e) echo 64 KB: iocp-pool through pool.alloc() (by reference) vs the peers copying, ${k64.window} in flight`,
        note: `${note} iocp-pool: alloc(65536) per task, run(view), free(view) when the echo is back; the peers copy 64 KB both ways.`,
        subjects: peersCopying,
        compareTo: 'peer',
        metrics: rate,
        params: { ...k64, needs: 'alloc' },
        targets: [{ metric: 'rate', label: '64 KB through pool.alloc ≥ 10 × best peer copying 64 KB', ratioAtLeast: 10 }],
      },
      {
        id: 'payload-bytes1m',
        title: `(8f) echo a 1 MB Uint8Array (copied), 2 threads, ${m1.window} in flight`,
        note,
        subjects: subjects(),
        compareTo: 'peer',
        metrics: rate,
        params: m1,
        // No target: four copies of 1 MB a task (in and out on each side) cost the same everywhere.
        targets: [{ metric: 'rate', label: '1 MB bytes, copied (for the record: no target)', ratioAtLeast: 0, info: true }],
      },
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
    await keepFullWith(pool.run, source, { tasks: warm, ms: warmMs, window });
    const run = await keepFullWith(pool.run, source, { tasks: n, ms, window });
    return { rate: (run.done / run.ms) * 1000, info: { ms: run.ms, n: run.done, window } };
  },
};
