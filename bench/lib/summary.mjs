/**
 * From raw runs to what the report shows: per subject and metric the median
 * and spread, the ratio to the best reference subject, and the target checks.
 */
import { summarize } from './stats.mjs';

/** Best (by the metric's direction) of the reference subjects' medians, with its subject. */
function bestReference(caseDef, rows, metric) {
  const refs = rows.filter((r) => {
    if (!r.stats) return false;
    if (caseDef.compareWith) return caseDef.compareWith.includes(r.id);
    return caseDef.compareTo !== undefined && r.kind === caseDef.compareTo;
  });
  let best = null;
  for (const r of refs) {
    const v = r.stats[metric.key]?.median;
    if (!Number.isFinite(v)) continue;
    if (best === null || (metric.better === 'higher' ? v > best.value : v < best.value)) best = { id: r.id, label: r.label, value: v };
  }
  return best;
}

/**
 * caseDef: a scenario case; runs: { [subjectId]: [{ ok, result | error }] }; skipped: { [subjectId]: reason }.
 * Returns { rows, best: { [metricKey]: {id, label, value} }, targets: [...] }.
 */
export function summarizeCase(caseDef, runs, skipped = {}) {
  const rows = caseDef.subjects.map((s) => {
    const list = runs[s.id] ?? [];
    const ok = list.filter((r) => r.ok);
    const errors = list.filter((r) => !r.ok).map((r) => r.error);
    let stats = null;
    if (ok.length > 0) {
      stats = {};
      for (const m of caseDef.metrics) stats[m.key] = summarize(ok.map((r) => r.result[m.key]));
    }
    const note = skipped[s.id] ?? (errors.length > 0 && ok.length === 0 ? 'failed' : undefined);
    return { ...s, stats, runs: ok.length, errors, note };
  });
  const best = {};
  for (const m of caseDef.metrics) best[m.key] = bestReference(caseDef, rows, m);
  for (const r of rows) {
    r.ratio = {};
    for (const m of caseDef.metrics) {
      const b = best[m.key];
      const v = r.stats?.[m.key]?.median;
      r.ratio[m.key] = b && Number.isFinite(v) && b.value !== 0 ? v / b.value : NaN;
    }
  }
  const targets = (caseDef.targets ?? []).map((t) => checkTarget(caseDef, rows, best, t));
  return { rows, best, targets };
}

function checkTarget(caseDef, rows, best, t) {
  const subject = rows.find((r) => (t.subject ? r.id === t.subject : r.kind === 'iocp'));
  const metric = caseDef.metrics.find((m) => m.key === t.metric);
  const value = subject?.stats?.[t.metric]?.median;
  const out = { label: t.label, case: caseDef.id, subject: subject?.label, ok: null, measured: null, detail: '' };
  if (!Number.isFinite(value)) {
    out.detail = subject?.note ? `not measured: ${subject.note}` : 'not measured';
    return out;
  }
  if (t.ratioAtLeast !== undefined || t.ratioAtMost !== undefined) {
    const ref = t.against
      ? (() => {
          const r = rows.find((x) => x.id === t.against);
          const v = r?.stats?.[t.metric]?.median;
          return Number.isFinite(v) ? { label: r.label, value: v } : null;
        })()
      : best[t.metric];
    if (!ref) {
      out.detail = 'no reference measured';
      return out;
    }
    const ratio = value / ref.value;
    out.measured = ratio;
    out.ok = t.ratioAtLeast !== undefined ? ratio >= t.ratioAtLeast : ratio <= t.ratioAtMost;
    // A row reported for the record, with no target to meet: neither ✓ nor ✗.
    if (t.info) {
      out.ok = null;
      out.info = true;
    }
    out.detail = `${subject.label} ${fmtV(value)} ${metric.unit} vs ${ref.label} ${fmtV(ref.value)} ${metric.unit}: ratio ${ratio.toFixed(ratio >= 10 ? 1 : 3)}`;
    return out;
  }
  out.measured = value;
  out.ok = t.atLeast !== undefined ? value >= t.atLeast : t.atMost !== undefined ? value <= t.atMost : value < t.below;
  out.detail = `${subject.label}: ${fmtV(value)} ${metric.unit}`;
  return out;
}

const fmtV = (v) => (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3));
