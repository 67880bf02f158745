// Per-layer coverage floors: `npm run coverage` runs the suite under c8 (NODE_V8_COVERAGE, so the
// pool's worker threads are measured too, mapped back to src/ through dist/'s source maps), then
// this reads coverage/coverage-summary.json, sums lines and branches per layer and fails when a
// layer falls below its floor. A floor is a few points under what the suite measured when it was
// set: raise it when tests are added, never lower it to let a change through.
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);

/** Layer → floors in % (lines, branches). src/native runs only on Windows: its floor is for what Linux loads. */
const FLOORS = {
  'src/port': { lines: 87, branches: 82 },
  'src/heap': { lines: 92, branches: 85 },
  'src/codec': { lines: 90, branches: 83 },
  'src/pool': { lines: 87, branches: 54 },
  'src/pool/main': { lines: 79, branches: 69 },
  'src/pool/worker': { lines: 91, branches: 80 },
  'src/bullmq': { lines: 68, branches: 43 },
  'src/native': { lines: 36, branches: 0 },
};

const summary = JSON.parse(readFileSync(resolve(root, 'coverage/coverage-summary.json'), 'utf8'));
const sums = {};
for (const [path, s] of Object.entries(summary)) {
  if (path === 'total') continue;
  const file = relative(root, path);
  const layer = Object.keys(FLOORS)
    .filter((l) => file.startsWith(`${l}/`) && (l !== 'src/pool' || !/^src\/pool\/(main|worker)\//.test(file)))
    .sort((a, b) => b.length - a.length)[0];
  if (layer === undefined) continue;
  const sum = (sums[layer] ??= { lines: [0, 0], branches: [0, 0], files: 0 });
  sum.lines[0] += s.lines.covered;
  sum.lines[1] += s.lines.total;
  sum.branches[0] += s.branches.covered;
  sum.branches[1] += s.branches.total;
  sum.files++;
}

let failed = 0;
const pct = ([covered, total]) => (total === 0 ? 100 : (100 * covered) / total);
console.log('layer            files  lines %  (floor)  branches %  (floor)');
for (const [layer, floor] of Object.entries(FLOORS)) {
  const sum = sums[layer];
  if (sum === undefined) {
    console.log(`${layer.padEnd(16)} not measured: no file of it ran`);
    failed++;
    continue;
  }
  const lines = pct(sum.lines);
  const branches = pct(sum.branches);
  const bad = lines < floor.lines || branches < floor.branches;
  if (bad) failed++;
  console.log(
    `${layer.padEnd(16)} ${String(sum.files).padStart(5)}  ${lines.toFixed(1).padStart(7)}  (${String(floor.lines).padStart(4)})  ${branches.toFixed(1).padStart(10)}  (${String(floor.branches).padStart(4)})${bad ? '  BELOW THE FLOOR' : ''}`,
  );
}
if (failed > 0) {
  console.error(`check-coverage: ${failed} layer(s) below their floor (or not measured)`);
  process.exit(1);
}
console.log('check-coverage: every layer at or above its floor');
