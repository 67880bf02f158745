// The benchmark suite's arithmetic: a wrong median or ratio would misreport every scenario.
import { describe, expect, it } from 'vitest';
import { latencySummary, quantile, summarize } from '../../bench/lib/stats.mjs';
import { summarizeCase, type CaseDef } from '../../bench/lib/summary.mjs';
import { barChart } from '../../bench/lib/svg.mjs';

describe('bench stats', () => {
  it('takes medians, quantiles and spreads over runs', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    const s = summarize([5, 1, 3, 2, 4, NaN]);
    expect(s).toMatchObject({ n: 5, median: 3, min: 1, max: 5, q1: 2, q3: 4 });
    expect(summarize([]).n).toBe(0);
  });

  it('reports latency percentiles in µs from ns samples', () => {
    const ns = Float64Array.from({ length: 100 }, (_, i) => (i + 1) * 1000);
    const l = latencySummary(ns);
    expect(l.p50).toBe(50);
    expect(l.p99).toBe(99);
    expect(l.n).toBe(100);
  });
});

describe('bench summary', () => {
  const def: CaseDef = {
    id: 'c',
    title: 'c',
    subjects: [
      { id: 'me', label: 'me', kind: 'iocp' },
      { id: 'a', label: 'a', kind: 'peer' },
      { id: 'b', label: 'b', kind: 'peer' },
    ],
    compareTo: 'peer',
    metrics: [
      { key: 'rate', label: 'rate', unit: '/s', better: 'higher' },
      { key: 'lat', label: 'lat', unit: 'µs', better: 'lower' },
    ],
    targets: [
      { metric: 'rate', label: 'rate ≥ 10 × best', ratioAtLeast: 10 },
      { metric: 'lat', label: 'lat ≤ 1/5 best', ratioAtMost: 0.2 },
      { metric: 'lat', label: 'lat < 1', below: 1 },
    ],
  };
  const ok = (rate: number, lat: number) => ({ ok: true, result: { rate, lat } });

  it('ratios compare medians with the best peer in each metric direction', () => {
    const s = summarizeCase(def, {
      me: [ok(1000, 2), ok(900, 3), ok(1100, 4)],
      a: [ok(100, 10), ok(100, 10)],
      b: [ok(50, 5), { ok: false, error: 'boom' }],
    });
    expect(s.best.rate?.id).toBe('a');
    expect(s.best.lat?.id).toBe('b');
    expect(s.rows[0]!.ratio.rate).toBe(10);
    expect(s.rows[0]!.ratio.lat).toBeCloseTo(0.6);
    expect(s.targets.map((t) => t.ok)).toEqual([true, false, false]);
  });

  it('a row for the record (info) reports its ratio and neither meets nor misses a target', () => {
    const s = summarizeCase(
      { ...def, targets: [{ metric: 'rate', label: 'for the record', ratioAtLeast: 0, info: true }] },
      { me: [ok(50, 1)], a: [ok(100, 10)] },
    );
    expect(s.targets[0]).toMatchObject({ ok: null, info: true, measured: 0.5 });
    expect(s.targets[0]!.detail).toMatch(/ratio 0\.500/);
  });

  it('an absolute "at most" target is met at the bound and missed above it', () => {
    const atMost = { ...def, targets: [{ metric: 'lat', label: 'lat ≤ 60', atMost: 60 }] };
    expect(summarizeCase(atMost, { me: [ok(1, 60)] }).targets[0]!.ok).toBe(true);
    expect(summarizeCase(atMost, { me: [ok(1, 60.5)] }).targets[0]!.ok).toBe(false);
  });

  it('a skipped subject is reported as not measured, never as a number', () => {
    const s = summarizeCase(def, { a: [ok(100, 10)] }, { me: 'skipped' });
    expect(s.rows[0]!.note).toBe('skipped');
    expect(s.targets.every((t) => t.ok === null && /not measured/.test(t.detail))).toBe(true);
  });

  it('draws a well-formed SVG with a bar per measured subject', () => {
    const svg = barChart({
      title: 'x < y & z',
      metrics: def.metrics,
      rows: [
        { label: 'me', kind: 'iocp', stats: { rate: { median: 10, min: 9, max: 11 }, lat: { median: 1, min: 1, max: 1 } } },
        { label: 'gone', kind: 'peer', stats: null, note: 'skipped' },
      ],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('x &lt; y &amp; z');
    expect(svg.match(/<rect x=/g)?.length).toBe(2);
    expect(svg).toContain('skipped');
  });
});
