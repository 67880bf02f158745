/**
 * Summary statistics for benchmark samples. Pure functions, no dependencies.
 */

/** Sorted copy of the finite numbers in xs. */
export function sorted(xs) {
  return xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
}

/** Quantile q in [0, 1] with linear interpolation (the common "type 7" definition). */
export function quantile(xs, q) {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export const median = (xs) => quantile(xs, 0.5);

/** Percentile p in [0, 100]. */
export const percentile = (xs, p) => quantile(xs, p / 100);

/** Median, min, max, IQR and relative spread ((max − min) / median) of the runs of one subject. */
export function summarize(xs) {
  const s = sorted(xs);
  if (s.length === 0) return { n: 0, median: NaN, min: NaN, max: NaN, q1: NaN, q3: NaN, spread: NaN };
  const med = quantile(s, 0.5);
  return {
    n: s.length,
    median: med,
    min: s[0],
    max: s[s.length - 1],
    q1: quantile(s, 0.25),
    q3: quantile(s, 0.75),
    spread: med === 0 ? NaN : (s[s.length - 1] - s[0]) / Math.abs(med),
  };
}

/**
 * Latency samples (in ns, as a Float64Array or array) → p50/p99/mean in µs.
 * Sorting a copy keeps the caller's buffer intact.
 */
export function latencySummary(samplesNs, count = samplesNs.length) {
  const s = Float64Array.from(samplesNs.subarray ? samplesNs.subarray(0, count) : samplesNs.slice(0, count)).sort();
  const at = (q) => s[Math.min(s.length - 1, Math.floor((s.length - 1) * q))] / 1000;
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1] / 1000, mean: sum / s.length / 1000, n: s.length };
}
