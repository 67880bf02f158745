// Pool faults through the public ThreadPool API, in two cases.
//
// Faults: among echo tasks, handlers that call process.exit, run out of
// memory under resourceLimits, or leave a timer that throws. Every run() must
// settle (an echo with its own value, a fault — or a task that shared its
// thread with a throwing timer — with an error); the pool must keep serving (a
// last batch of echoes all succeed) and close() must resolve.
//
// Timeouts in a flood: 2 threads serve tiny tasks, 256 in flight, while every
// 60 ms a task that never settles, with `timeout: 1`, makes the pool stop its
// thread — wherever that thread is in its handling of the flood: taking a
// packet, claiming it, writing a result, posting it. (The thread is asked to
// leave, and terminated if it has not within 250 ms.) Every run() must settle
// (its own value, or WorkerDiedError for a task that was running on the
// stopped thread), and no task may run twice (each counts its runs in shared
// memory).
//
// "lost" = run() calls that never settled, "duplicated" = an echo answered
// with another task's value, or a task that ran twice.
import { Hang, loadLib, random, sleep, within } from '../lib.mjs';

export const name = 'pool';
const FIXTURE = new URL('../fixtures/faults.mjs', import.meta.url);
/** The exit code of a pool thread that left by itself when asked to stop (src/pool/protocol.ts). */
const EXIT_STOPPED = 204;

export async function run({ seed, quick }) {
  const faults = await faultCase({ seed, quick });
  const flood = await floodCase({ quick });
  return {
    name,
    seed,
    volume: faults.volume + flood.volume,
    unit: `run() tasks (${faults.unit}; ${flood.unit})`,
    lost: faults.lost + flood.lost,
    duplicated: faults.duplicated + flood.duplicated,
    hangs: faults.hangs + flood.hangs,
    ok: faults.ok && flood.ok,
    extra: `faults: ${faults.extra}; flood: ${flood.extra}`,
  };
}

/** Timeouts in a flood: terminations at random instants of a busy pool. */
async function floodCase({ quick }) {
  const seconds = quick ? 3 : 60;
  const inFlight = 256;
  const capacity = 8 << 20;
  const limitMs = 60_000;
  const { ThreadPool, WorkerDiedError } = await loadLib();
  const runs = new SharedArrayBuffer(capacity);
  const ran = new Uint8Array(runs);
  /** 1: that run() resolved (then it must have run exactly once). */
  const resolvedIds = new Uint8Array(capacity);
  const pool = new ThreadPool({ filename: FIXTURE, threads: 2, workerData: { runs } });
  pool.on('error', () => {});
  let terminations = 0;
  let terminated = 0;
  pool.on('threadExit', ({ reason, code }) => {
    if (reason !== 'timeout') return;
    terminations++;
    if (code !== EXIT_STOPPED) terminated++; // did not leave by itself: terminate()
  });
  const pending = new Set();
  let next = 0;
  let resolved = 0;
  let died = 0;
  let wrong = 0;
  let otherErrors = 0;
  let stop = false;
  const launch = () => {
    if (stop || next >= capacity) return;
    const id = next++;
    pending.add(id);
    pool.run({ op: 'count', v: id }).then(
      (value) => {
        pending.delete(id);
        resolved++;
        resolvedIds[id] = 1;
        if (value !== id) wrong++;
        launch();
      },
      (error) => {
        pending.delete(id);
        if (error instanceof WorkerDiedError) died++;
        else otherErrors++;
        launch();
      },
    );
  };
  for (let i = 0; i < inFlight; i++) launch();
  const stoppers = [];
  const timer = setInterval(() => stoppers.push(pool.run({ op: 'never' }, { timeout: 1 }).catch(() => {})), 60);
  await sleep(seconds * 1000);
  stop = true;
  clearInterval(timer);
  let hangs = 0;
  try {
    await within(Promise.all(stoppers), 'every timed-out task settles', limitMs);
    const start = Date.now();
    while (pending.size > 0 && Date.now() - start < limitMs) await sleep(10);
  } catch (error) {
    if (!(error instanceof Hang)) throw error;
    hangs++;
  }
  const lost = pending.size;
  if (lost > 0) console.error(`  pool (flood): ${lost} run() calls never settled: ids ${[...pending].slice(0, 10).join(', ')}`);
  let twice = 0;
  let resolvedUnrun = 0;
  for (let id = 0; id < next; id++) {
    if (ran[id] > 1) twice++;
    else if (resolvedIds[id] === 1 && ran[id] === 0) resolvedUnrun++;
  }
  hangs += await closeWithin(pool, limitMs);
  return {
    volume: next,
    unit: `flood: ${seconds} s, 2 threads, ${inFlight} in flight, ${terminations} threads stopped by a timeout`,
    lost,
    duplicated: wrong + twice,
    hangs,
    ok: lost + wrong + twice + hangs + otherErrors + resolvedUnrun === 0 && (quick || terminations > 0),
    extra:
      `${terminations} stopped (${terminated} by terminate()), ${lost} lost, ${twice} ran twice, ${wrong} wrong values, ${resolvedUnrun} resolved without running, ` +
      `${resolved} resolved, ${died} failed with their thread (WorkerDiedError), ${otherErrors} other errors`,
  };
}

async function faultCase({ seed, quick }) {
  const rand = random(seed);
  const tasks = quick ? 1000 : 20_000;
  const limitMs = quick ? 60_000 : 300_000;
  const { ThreadPool } = await loadLib();
  const pool = new ThreadPool({
    filename: FIXTURE,
    threads: 4,
    concurrency: 2,
    resourceLimits: { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 },
  });
  let poolErrors = 0;
  pool.on('error', () => poolErrors++);
  const counts = { echo: 0, exit: 0, oom: 0, timer: 0 };
  let settled = 0;
  let wrong = 0;
  let failedEcho = 0;
  let faultResolved = 0;
  let hangs = 0;
  const runs = [];
  for (let i = 0; i < tasks; i++) {
    const r = rand();
    const op = r < 0.01 ? 'exit' : r < 0.013 ? 'oom' : r < 0.03 ? 'timer' : 'echo';
    counts[op]++;
    runs.push(
      pool.run({ op, v: i }).then(
        (value) => {
          settled++;
          if (op === 'exit' || op === 'oom') faultResolved++;
          else if (value !== i) wrong++;
        },
        () => {
          settled++;
          if (op === 'echo') failedEcho++; // collateral of a timer that threw on its thread
        },
      ),
    );
    // Keep a few hundred in flight, so faults land among running tasks.
    if (runs.length % 200 === 0) await Promise.race([Promise.all(runs.slice(-200)), new Promise((resolve) => setTimeout(resolve, 50))]);
  }
  try {
    await within(Promise.all(runs), 'every run() settles', limitMs);
  } catch (error) {
    if (!(error instanceof Hang)) throw error;
    hangs++;
    console.error(`  pool: ${error.message} (${tasks - settled} unsettled)`);
  }
  // The pool still serves.
  let after = 0;
  try {
    const values = await within(
      Promise.all(Array.from({ length: 500 }, (_, i) => pool.run({ op: 'echo', v: -i }))),
      'a last batch of echoes',
      limitMs,
    );
    after = values.filter((v, i) => v === -i).length;
  } catch (error) {
    if (!(error instanceof Hang)) throw error;
    hangs++;
  }
  hangs += await closeWithin(pool, limitMs);
  const lost = tasks - settled;
  return {
    volume: tasks,
    unit: `faults: ${counts.exit} exit, ${counts.oom} oom, ${counts.timer} throwing timers`,
    lost,
    duplicated: wrong,
    hangs,
    ok: lost + wrong + hangs + faultResolved === 0 && after === 500,
    extra: `${failedEcho} echoes failed with their thread, ${faultResolved} faults resolved, ${after}/500 echoes after, ${poolErrors} pool 'error' events`,
  };
}

/** close() within the time box; past it, destroy(). Returns 1 for a hang, else 0. */
async function closeWithin(pool, limitMs) {
  try {
    await within(pool.close(), 'close()', limitMs);
    return 0;
  } catch (error) {
    if (!(error instanceof Hang)) throw error;
    await pool.destroy();
    return 1;
  }
}
