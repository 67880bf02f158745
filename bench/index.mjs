/**
 * iocp-pool benchmark suite: `npm run bench [-- --quick]`.
 *
 * For every case of every scenario, each subject (iocp-pool, the peers, the
 * primitives) is measured `runs` times, each time in a fresh node process
 * (bench/child.mjs), in an order rotated every repetition (A B C D E,
 * B C D E A, …). Prints a table per case with median, min–max and the ratio
 * to the best peer (or primitive), checks the targets of docs/design.md (printed
 * ✓/✗, never asserted), and writes docs/benchmarks.md with an SVG per case.
 *
 * Exit code: 0 when every measurement ran, 1 when any failed (a crash,
 * a wrong result, a timeout) — never because a target was missed.
 */
import { existsSync } from 'node:fs';
import { loadThreadPool } from './adapters/index.mjs';
import { parseArgs } from './lib/args.mjs';
import { duration } from './lib/format.mjs';
import { load1, machine } from './lib/machine.mjs';
import { printCase, updateReadme, writeDocs } from './lib/report.mjs';
import { measureInChild } from './lib/spawn.mjs';
import { loadScenarios, loadStoredRun } from './lib/stored.mjs';
import { summarizeCase } from './lib/summary.mjs';
import { fmt } from './lib/format.mjs';

const ROOT = new URL('../', import.meta.url);

const opts = (() => {
  try {
    return parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
})();

if (!existsSync(new URL('dist/index.js', ROOT))) {
  console.error('dist/index.js is missing: run `npm run bench` (it builds first) or `npx tsup`.');
  process.exit(2);
}

// --report: measure nothing; write the docs again from the stored run (after a change to the
// report, the scenarios' targets, or the prose around README.md's numbers).
if (opts.report) {
  const run = await loadStoredRun(ROOT);
  const files = writeDocs(ROOT, { machine: run.machine, cases: run.cases, mode: run.mode, notes: run.notes, wallMs: run.wall ?? '—' });
  if (run.mode.startsWith('full')) files.push(...updateReadme(ROOT, run));
  console.log(`from docs/bench/results.json (${run.mode}, ${run.machine.date}): wrote ${files.join(', ')}`);
  process.exit(0);
}

const t0 = performance.now();
const info = machine();
const modules = await loadScenarios();
const allCases = modules.flatMap(({ id, mod }) => mod.cases({ quick: opts.quick }).map((c) => ({ scenario: id, def: c })));

if (opts.list) {
  for (const c of allCases) console.log(`${c.scenario.padEnd(11)} ${c.def.id.padEnd(22)} ${c.def.title}`);
  process.exit(0);
}
const selected = opts.only ? allCases.filter((c) => opts.only.includes(c.scenario) || opts.only.includes(c.def.id)) : allCases;
if (selected.length === 0) {
  console.error(`--only ${opts.only.join(',')} matches no scenario or case; see --list`);
  process.exit(2);
}

const notes = [];
const hasPool = (await loadThreadPool()) !== null;
if (!hasPool) {
  notes.push(
    "iocp-pool's ThreadPool is not in this build (dist/ exports no ThreadPool): its pool rows are skipped, not estimated. Port and primitive scenarios are measured.",
  );
}
if (opts.quick) notes.push('QUICK MODE: small sizes and few runs, a smoke test of the suite. Do not quote these numbers.');
if (load1() > 0.5) {
  notes.push(`The machine was busy at the start (load average ${load1().toFixed(2)}): numbers are noisy, spinning primitives especially.`);
}

console.log(`iocp-pool benchmarks — ${opts.quick ? 'QUICK MODE, ' : ''}${opts.runs} runs per subject, ${selected.length} cases`);
console.log(`${info.cpu}, ${info.cores} cores, Node ${info.node}, load ${info.loadStart}, ${info.date}`);
for (const n of notes) console.log(`note: ${n}`);

const done = [];
let failures = 0;
for (const { scenario, def } of selected) {
  console.log(`\n▶ ${def.title}`);
  const runs = {};
  const skipped = {};
  const subjects = def.subjects.filter((s) => {
    if (s.needsPool && !hasPool) {
      skipped[s.id] = 'skipped (no ThreadPool)';
      console.log(`  – ${s.label}: skipped (iocp-pool ThreadPool not built yet — branch pool not merged)`);
      return false;
    }
    return true;
  });
  for (let rep = 0; rep < opts.runs; rep++) {
    const order = subjects.map((_, i) => subjects[(i + rep) % subjects.length]);
    for (const s of order) {
      if (skipped[s.id] !== undefined) continue;
      const spec = { scenario, case: def.id, subject: s.id, params: def.params };
      const r = await measureInChild(spec, { nodeArgs: def.nodeArgs, timeoutMs: opts.quick ? 60_000 : 240_000 });
      // A build without a feature the case needs says so ({ unavailable }): reported, not failed.
      if (r.ok && r.result.unavailable !== undefined) {
        skipped[s.id] = `not available: ${r.result.unavailable}`;
        console.log(`  – ${s.label}: ${skipped[s.id]}`);
        continue;
      }
      (runs[s.id] ??= []).push(r);
      const shown = r.ok ? def.metrics.map((m) => `${fmt(r.result[m.key])} ${m.unit}`).join(', ') : `FAILED: ${String(r.error).split('\n')[0]}`;
      if (!r.ok) failures++;
      console.log(`  [${rep + 1}/${opts.runs}] ${s.label.padEnd(30)} ${shown}  (${duration(r.ms)})`);
      for (const w of r.warnings ?? []) console.log(`        ${w}`);
    }
  }
  const summary = summarizeCase(def, runs, skipped);
  done.push({ def, summary, runs, skipped });
}

info.loadEnd = load1().toFixed(2);
const wall = duration(performance.now() - t0);
console.log(
  `\n════ Results (${opts.quick ? 'QUICK MODE — smoke test, not for quoting' : 'full run'}; wall ${wall}; load ${info.loadStart} → ${info.loadEnd}) ════`,
);
for (const n of notes) console.log(`note: ${n}`);
for (const { def, summary } of done) printCase(def, summary);

if (opts.docs) {
  const mode = opts.quick ? 'quick' : `full, ${opts.runs} runs`;
  const files = writeDocs(ROOT, { machine: info, cases: done, mode, notes, wallMs: wall });
  // README.md quotes full runs only: its headline block and the numbers in its prose.
  if (!opts.quick && opts.only === null) files.push(...updateReadme(ROOT, { machine: info, cases: done, mode, wall }));
  console.log(`\nwrote ${files.join(', ')}`);
}
console.log(`\n${failures === 0 ? 'all measurements ran' : `${failures} measurement(s) FAILED`} — wall time ${wall}`);
process.exit(failures === 0 ? 0 : 1);
