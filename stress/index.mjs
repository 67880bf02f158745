// The standing stress suite: npm run stress [-- --quick] [--seed N] [--only a,b].
// Not part of npm test. Each scenario runs with a seed, a volume and a time
// box, and prints one summary line (volume, lost, duplicated, hangs); the run
// exits non-zero on any loss, duplicate or hang. See docs/stress.md.
import { existsSync } from 'node:fs';
import { summary } from './lib.mjs';
import * as close from './scenarios/close.mjs';
import * as heap from './scenarios/heap.mjs';
import * as kill from './scenarios/kill.mjs';
import * as mpmc from './scenarios/mpmc.mjs';
import * as pool from './scenarios/pool.mjs';
import * as tamper from './scenarios/tamper.mjs';

const SCENARIOS = [mpmc, close, kill, tamper, pool, heap];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const value = (flag) => {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
};
const seed = Number(value('--seed') ?? 1);
const only = value('--only')?.split(',');
if (!Number.isInteger(seed)) throw new Error('--seed must be an integer');
if (!existsSync(new URL('../dist/index.js', import.meta.url))) throw new Error('dist/ is missing: npm run build first');

console.log(`stress ${quick ? '--quick' : '(full)'} seed ${seed}, node ${process.version}`);
let failed = 0;
const t0 = performance.now();
for (const scenario of SCENARIOS) {
  if (only && !only.includes(scenario.name)) continue;
  const start = performance.now();
  let result;
  try {
    result = await scenario.run({ seed, quick });
  } catch (error) {
    result = {
      name: scenario.name,
      seed,
      volume: 0,
      unit: '',
      lost: '?',
      duplicated: '?',
      hangs: '?',
      ok: false,
      extra: `threw ${error?.stack ?? error}`,
    };
  }
  result.ms = performance.now() - start;
  if (!result.ok) failed++;
  console.log(summary(result));
}
console.log(`stress: ${failed === 0 ? 'all scenarios passed' : `${failed} scenario(s) FAILED`} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
process.exit(failed === 0 ? 0 : 1);
