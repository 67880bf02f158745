// Tampered handles: a port with some history, one to three of its state
// words damaged (state line, position words, waiter stack, slot and record
// fields, cell sequence numbers) with values chosen to hurt (-1, 0, 7,
// 2^30 − 1, the closed bit, ±1, +ringSize, random), then six random calls.
// Every call must return or throw PortCorruptedError (or PortClosedError for
// a damaged "closed" word, or the "no free thread slot" RangeError for a
// damaged slot table) — never hang, never throw anything else, never crash
// the process. Trials run in child processes (stress/tamper-child.mjs), so a
// native crash is seen as one.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const name = 'tamper';
const CHILD = fileURLToPath(new URL('../tamper-child.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function batch(seed, first, count) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, String(seed), String(first), String(count)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code, signal) => {
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
      const done = lines.some((l) => l.done);
      resolve({ trials: lines.filter((l) => l.trial !== undefined), crashed: !done, why: done ? '' : `exit ${code ?? signal}: ${err.slice(-500)}` });
    });
  });
}

export async function run({ seed, quick }) {
  const total = quick ? 100 : 2000;
  const perChild = quick ? 100 : 250;
  let hangs = 0;
  let unexpected = 0;
  let crashes = 0;
  let done = 0;
  for (let first = 0; first < total; first += perChild) {
    const r = await batch(seed, first, Math.min(perChild, total - first));
    for (const t of r.trials) {
      done++;
      if (t.outcome === 'hang') hangs++;
      if (t.outcome === 'unexpected') unexpected++;
      if (t.outcome !== 'ok') console.error(`  tamper trial ${t.trial} (seed ${seed}): ${t.outcome}: ${t.detail}`);
    }
    if (r.crashed) {
      crashes++;
      console.error(`  tamper batch from trial ${first} (seed ${seed}) crashed: ${r.why}`);
    }
  }
  return {
    name,
    seed,
    volume: done,
    unit: 'damaged ports',
    lost: '-',
    duplicated: '-',
    hangs,
    ok: hangs + unexpected + crashes === 0 && done === total,
    extra: `6 calls each; unexpected errors ${unexpected}, crashes ${crashes}`,
  };
}
