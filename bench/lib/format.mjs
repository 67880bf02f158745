/** Number formatting shared by the console table and the markdown report. */

/** 3 significant digits with k/M suffix for large numbers: 1234567 → "1.23 M". */
export function fmt(x) {
  if (x === undefined || x === null || Number.isNaN(x)) return '—';
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1e9) return `${(x / 1e9).toPrecision(3)} G`;
  if (a >= 1e6) return `${(x / 1e6).toPrecision(3)} M`;
  if (a >= 1e4) return `${(x / 1e3).toPrecision(3)} k`;
  if (a >= 100) return x.toFixed(0);
  if (a >= 1) return x.toPrecision(3);
  if (a === 0) return '0';
  return x.toPrecision(2);
}

export function pct(x) {
  if (!Number.isFinite(x)) return '—';
  return `${(x * 100).toFixed(x < 0.1 ? 1 : 0)} %`;
}

export function ratio(x) {
  if (!Number.isFinite(x)) return '—';
  return `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×`;
}

export function duration(ms) {
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}
