// Pool faults through the public ThreadPool API: among echo tasks, handlers
// that call process.exit, run out of memory under resourceLimits, or leave a
// timer that throws. Every run() must settle (an echo with its own value, a
// fault — or a task that shared its thread with a throwing timer — with an
// error); the pool must keep serving (a last batch of echoes all succeed)
// and close() must resolve. "lost" = run() calls that never settled,
// "duplicated" = an echo answered with another task's value.
import { Hang, loadLib, random, within } from '../lib.mjs';

export const name = 'pool';
const FIXTURE = new URL('../fixtures/faults.mjs', import.meta.url);

export async function run({ seed, quick }) {
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
  try {
    await within(pool.close(), 'close()', limitMs);
  } catch (error) {
    if (!(error instanceof Hang)) throw error;
    hangs++;
    await pool.destroy();
  }
  const lost = tasks - settled;
  return {
    name,
    seed,
    volume: tasks,
    unit: `run() tasks (${counts.exit} exit, ${counts.oom} oom, ${counts.timer} throwing timers)`,
    lost,
    duplicated: wrong,
    hangs,
    ok: lost + wrong + hangs + faultResolved === 0 && after === 500,
    extra: `${failedEcho} echoes failed with their thread, ${faultResolved} faults resolved, ${after}/500 echoes after, ${poolErrors} pool 'error' events`,
  };
}
