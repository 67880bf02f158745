/**
 * The scenarios, and the last run as docs/bench/results.json keeps it: `node bench/index.mjs
 * --report` writes docs/benchmarks.md and README.md's numbers again from it without measuring,
 * and the tests check that README.md quotes it.
 */
import { readFileSync } from 'node:fs';
import { summarizeCase } from './summary.mjs';

export const SCENARIOS = [
  'port',
  'primitives',
  'throughput',
  'latency',
  'offload',
  'idle',
  'memory',
  'payload',
  'async',
  'openloop',
  'loaded',
  'http',
];

/** [{ id, mod }] for every scenario module of bench/scenarios/. */
export async function loadScenarios() {
  const modules = [];
  for (const id of SCENARIOS) modules.push({ id, mod: (await import(`../scenarios/${id}.mjs`)).default });
  return modules;
}

/** { machine, mode, wall, notes, cases: [{ def, runs, skipped, summary }] } of the stored run. */
export async function loadStoredRun(root) {
  const stored = JSON.parse(readFileSync(new URL('docs/bench/results.json', root), 'utf8'));
  const quick = stored.mode === 'quick';
  const defs = (await loadScenarios()).flatMap(({ mod }) => mod.cases({ quick }));
  const cases = stored.cases.map((c) => {
    const current = defs.find((d) => d.id === c.case);
    if (!current) throw new Error(`docs/bench/results.json has case ${c.case}, which no scenario defines any more`);
    const def = asMeasured(current, c);
    const skipped = c.skipped ?? {};
    return { def, runs: c.runs, skipped, summary: summarizeCase(def, c.runs, skipped) };
  });
  return { machine: stored.machine, mode: stored.mode, wall: stored.wall, notes: stored.notes ?? [], cases };
}

/**
 * The case as the stored run measured it. A case whose title has changed since (its workload
 * changed: a fresh payload per task, another size) keeps the stored title, and says that the
 * figures predate the change, until a full run measures it again.
 */
export function asMeasured(def, stored) {
  if (stored.title === undefined || stored.title === def.title) return def;
  return {
    ...def,
    title: stored.title,
    params: stored.params ?? def.params,
    note: `Measured before this case changed, as the title says; the next full run measures it as it is now: ${def.title}.`,
  };
}
