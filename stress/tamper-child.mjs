// Run by stress/scenarios/tamper.mjs in a child process (with tsx, for the
// layout's word indices): trials of "a port with some history, one to three
// damaged words, then random calls". The trials run in a worker thread, one
// after the other; this thread times each one and ends the worker if a trial
// does not finish (a hang), then goes on in a new worker. A crash of the
// process (a native abort) shows as a missing final line to the parent.
//
//   node --import tsx stress/tamper-child.mjs <seed> <first trial> <trials>
//
// Prints one JSON line per trial ({ trial, outcome: ok | hang | unexpected,
// detail }) and a last { done: true }.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const TRIAL_LIMIT_MS = 5000;
const CAPACITIES = [1, 2, 3, 16, 64];
/** The calls a trial makes, at random, after the damage. */
const OPS = [
  { name: 'get(0)', call: (port) => port.get(0) },
  { name: 'get(2)', call: (port) => port.get(2) },
  { name: 'getMany(3,0)', call: (port) => port.getMany(3, 0) },
  { name: 'getAsync(0)', call: (port) => port.getAsync(0) },
  { name: 'getAsync(3)', call: (port) => port.getAsync(3) },
  { name: 'post', call: (port, rand) => port.post(rand.int(100), rand.int(100), 0) },
  { name: 'close', call: (port) => port.close() },
  { name: 'stats', call: (port) => port.stats() },
  { name: 'detach', call: (port) => port.detach() },
  { name: 'releaseThread', call: (port, rand) => port.releaseThread(rand.int(50)) },
  { name: 'blocking', call: (port) => port.blocking(() => 1) },
];

const MAX_THREADS = 8;

if (isMainThread) {
  const L = await import('../src/port/portable/layout.ts');
  const layout = Object.fromEntries(Object.entries(L).filter(([, v]) => typeof v === 'number'));
  layout.geometries = Object.fromEntries(CAPACITIES.map((c) => [c, L.geometry(c, MAX_THREADS)]));
  const [seed, first, count] = process.argv.slice(2).map(Number);
  const libUrl = new URL('../dist/index.js', import.meta.url).href;
  let next = first;
  const end = first + count;
  while (next < end) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { libUrl, layout, seed, first: next, end } });
    await new Promise((resolve) => {
      let timer;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          console.log(JSON.stringify({ trial: next, outcome: 'hang', detail: `no answer within ${TRIAL_LIMIT_MS} ms, in ${progress}` }));
          next++;
          void worker.terminate();
        }, TRIAL_LIMIT_MS);
      };
      arm();
      let progress = '';
      worker.on('message', (line) => {
        if (line.progress !== undefined) {
          progress = line.progress;
          return;
        }
        console.log(JSON.stringify(line));
        next = line.trial + 1;
        arm();
        if (next >= end) {
          clearTimeout(timer);
          void worker.terminate();
        }
      });
      worker.on('error', (error) => {
        clearTimeout(timer);
        console.log(JSON.stringify({ trial: next, outcome: 'unexpected', detail: `worker died: ${error?.stack ?? error}` }));
        next++;
      });
      worker.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  console.log(JSON.stringify({ done: true }));
  process.exit(0);
} else {
  const { libUrl, layout: L, seed, first, end } = workerData;
  const { CompletionPort, PortClosedError, PortCorruptedError } = await import(libUrl);
  for (let trial = first; trial < end; trial++) parentPort.postMessage(await runTrial(trial));

  function rng(s) {
    let state = s >>> 0;
    const next = () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    next.int = (n) => Math.floor(next() * n);
    next.pick = (list) => list[Math.floor(next() * list.length)];
    return next;
  }

  async function runTrial(trial) {
    const rand = rng(seed * 1_000_003 + trial);
    const capacity = rand.pick(CAPACITIES);
    const port = new CompletionPort({ capacity, concurrency: 1 + rand.int(2), maxThreads: MAX_THREADS });
    const geo = L.geometries[capacity];
    const i32 = new Int32Array(port.handle.buffer);
    // Some history: positions moved, a thread attached, maybe a waiter.
    const moves = rand.int(3 * capacity + 5);
    for (let i = 0; i < moves; i++) {
      if (rand() < 0.6) port.post(i & 0xffff, i, 0);
      else port.get(0);
    }
    const notes = [];
    if (rand() < 0.4) {
      const pending = port.getAsync();
      pending.then(
        () => {},
        (error) => notes.push(allowed(error) ? null : `pending getAsync: ${error?.name}: ${error?.message}`),
      );
    }
    // One to three damaged words.
    const damage = [];
    for (let d = 1 + rand.int(3); d > 0; d--) {
      const word = pickWord(rand, geo);
      const value = pickValue(rand, i32[word.index], geo);
      i32[word.index] = value;
      damage.push(`${word.name}=${value}`);
    }
    // Random calls.
    const calls = [];
    for (let c = 0; c < 6; c++) {
      const op = rand.pick(OPS);
      calls.push(op.name);
      parentPort.postMessage({ trial, progress: `${damage.join(', ')}; ${calls.join(' ')}` });
      try {
        await op.call(port, rand);
      } catch (error) {
        if (!allowed(error))
          return { trial, outcome: 'unexpected', detail: `${damage.join(', ')}; ${calls.join(' ')}: ${error?.name}: ${error?.message}` };
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
    const bad = notes.filter((n) => n !== null);
    if (bad.length > 0) return { trial, outcome: 'unexpected', detail: `${damage.join(', ')}; ${bad[0]}` };
    return { trial, outcome: 'ok' };
  }

  /** What a damaged port may answer: PortCorruptedError, PortClosedError (a damaged S_CLOSED), a full thread table, or a getAsync settled by the trial's own detach(). */
  function allowed(error) {
    return (
      error instanceof PortCorruptedError ||
      error instanceof PortClosedError ||
      error?.code === 'ERR_PORT_DETACHED' ||
      (error instanceof RangeError && /no free thread slot/.test(error.message))
    );
  }

  function pickWord(rand, geo) {
    const state = [
      'S_LOCK',
      'S_CLOSED',
      'S_FRONT_HEAD',
      'S_FRONT_TAIL',
      'S_RUNNING',
      'S_WAITING',
      'S_THREADS',
      'S_PENDING',
      'S_ANON',
      'S_STUCK_LOCK',
      'S_NEED_SCAN',
      'S_ENQ',
      'S_DEQ',
      'S_VOID',
    ];
    const r = rand();
    if (r < 0.5) {
      const name = rand.pick(state);
      return { name, index: L[name] };
    }
    if (r < 0.6) {
      const i = rand.int(geo.maxThreads);
      return { name: `stack[${i}]`, index: L.STACK_BASE + i };
    }
    if (r < 0.75) {
      const slot = rand.int(geo.maxThreads);
      const field = rand.int(6);
      return { name: `slot${slot}.${field}`, index: geo.slotBase + slot * L.SLOT_WORDS + field };
    }
    if (r < 0.85) {
      const rec = rand.int(4); // the first records: the ones this trial's instance took
      const field = rand.int(7); // R_TID … R_GOT
      return { name: `record${rec}.${field}`, index: geo.recordBase + rec * L.RECORD_WORDS + field };
    }
    const cell = rand.int(geo.ringSize);
    return { name: `cell${cell}.seq`, index: geo.cellBase + cell * L.CELL_WORDS };
  }

  function pickValue(rand, current, geo) {
    return rand.pick([
      -1,
      0,
      1,
      2,
      3,
      4,
      7,
      100,
      0x3fffffff,
      0x40000000,
      0x7fffffff,
      -0x80000000,
      (rand() * 2 ** 32) | 0,
      current + 1,
      current - 1,
      current + geo.ringSize,
      current | 0x40000000,
    ]);
  }
}
