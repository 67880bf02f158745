/**
 * Numbers in prose, from the same run as the tables. A document writes a measured number as
 *
 *   <!-- bench:run-tiny/iocp-pool/rate -->1.30 M tasks/s<!-- /bench -->
 *
 * and the report (a full run, or `node bench/index.mjs --report` from docs/bench/results.json)
 * rewrites what stands between the two comments; the comments do not show on a rendered page.
 *
 * Keys: CASE/SUBJECT/METRIC[:FORM], ids as `node bench/index.mjs --list` and the subjects of
 * bench/scenarios/ name them; SUBJECT `best` is the case's best reference (the best peer, the
 * best primitive…). FORM:
 *   (none)  the median with its unit       1.30 M tasks/s
 *   value   the median without unit        1.30 M
 *   range   min–max over runs, with unit   957 k–1.55 M tasks/s
 *   ratio   median / the best reference    10.5×
 *   label   the subject's label            poolifier
 * and the run itself: run/date (YYYY-MM-DD), run/machine (CPU, cores, Node), run/wall (wall time),
 * run/mode. An unknown key, subject or metric, or one the run did not measure, throws: a
 * document never keeps a number the run cannot back.
 */
import { fmt, ratio } from './format.mjs';

// Not the headline block's markers (bench:headline:start/end); a value never holds a '<'.
const MARK = /<!-- bench:(?!headline:)([^\s>]+) -->([^<]*)<!-- \/bench -->/g;

/** run: { machine, mode, wall, cases: [{ def, summary }] } */
export function benchValue(key, run) {
  const fail = (why) => {
    throw new Error(`bench value "${key}": ${why}`);
  };
  const [path, form = ''] = key.split(':');
  const parts = path.split('/');
  if (parts[0] === 'run' && parts.length === 2 && form === '') {
    const m = run.machine;
    const v = {
      date: m.date?.slice(0, 10),
      machine: `${m.cpu}, ${m.cores} cores, Node ${m.node}`,
      wall: run.wall,
      mode: run.mode,
    }[parts[1]];
    if (v === undefined || v === null) fail(`the run has no ${parts[1]}`);
    return v;
  }
  if (parts.length !== 3) fail('expected CASE/SUBJECT/METRIC[:FORM] or run/date|machine|wall|mode');
  const [caseId, subjectId, metricKey] = parts;
  const c = run.cases.find((x) => x.def.id === caseId);
  if (!c) fail(`no case ${caseId} in this run (${run.cases.map((x) => x.def.id).join(', ')})`);
  const metric = c.def.metrics.find((m) => m.key === metricKey);
  if (!metric) fail(`case ${caseId} has no metric ${metricKey} (${c.def.metrics.map((m) => m.key).join(', ')})`);
  const id = subjectId === 'best' ? c.summary.best[metricKey]?.id : subjectId;
  if (id === undefined) fail(`case ${caseId} has no best reference for ${metricKey}`);
  const row = c.summary.rows.find((r) => r.id === id);
  if (!row) fail(`case ${caseId} has no subject ${id} (${c.summary.rows.map((r) => r.id).join(', ')})`);
  const s = row.stats?.[metricKey];
  if (form === 'label') return row.label;
  if (!s || !Number.isFinite(s.median)) fail(`${row.label} was not measured in this run`);
  switch (form) {
    case '':
      return `${fmt(s.median)} ${metric.unit}`;
    case 'value':
      return fmt(s.median);
    case 'range':
      return `${fmt(s.min)}–${fmt(s.max)} ${metric.unit}`;
    case 'ratio':
      if (!Number.isFinite(row.ratio[metricKey])) fail('no ratio (no reference measured)');
      return ratio(row.ratio[metricKey]);
    default:
      return fail(`unknown form :${form} (value, range, ratio, label)`);
  }
}

/** The text with every bench marker's content replaced by the run's value; throws on a bad key. */
export function fillValues(text, run) {
  return text.replace(MARK, (_, key) => `<!-- bench:${key} -->${benchValue(key, run)}<!-- /bench -->`);
}

/** The keys a text's markers name, in order. */
export const benchKeys = (text) => [...text.matchAll(MARK)].map((m) => m[1]);
