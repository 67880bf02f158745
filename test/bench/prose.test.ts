// Numbers in prose come from the benchmark run, never from a hand: the bench markers of
// bench/lib/prose.mjs, README.md against docs/bench/results.json, and no measured number typed
// into README.md's prose outside a marker.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { benchKeys, benchValue, fillValues, type RunForDocs } from '../../bench/lib/prose.mjs';
import { renderReadme } from '../../bench/lib/report.mjs';
import { loadStoredRun } from '../../bench/lib/stored.mjs';
import { type CaseDef, summarizeCase } from '../../bench/lib/summary.mjs';

const ROOT = new URL('../../', import.meta.url);

const def: CaseDef = {
  id: 'run-tiny',
  title: 'tiny tasks',
  subjects: [
    { id: 'iocp-pool', label: 'iocp-pool', kind: 'iocp' },
    { id: 'a', label: 'peer A', kind: 'peer' },
    { id: 'b', label: 'peer B', kind: 'peer' },
    { id: 'gone', label: 'peer C', kind: 'peer' },
  ],
  compareTo: 'peer',
  metrics: [{ key: 'rate', label: 'throughput', unit: 'tasks/s', better: 'higher' }],
  targets: [{ metric: 'rate', label: 'rate ≥ 10 × best', ratioAtLeast: 10 }],
};
const ok = (rate: number) => ({ ok: true, result: { rate } });
const run: RunForDocs = {
  machine: { cpu: 'CPU X', cores: 2, node: '20.20.2', date: '2026-11-22T02:12:10Z', loadStart: '0.10', loadEnd: '0.20' },
  mode: 'full, 3 runs',
  wall: '16 min 10 s',
  cases: [
    {
      def,
      summary: summarizeCase(
        def,
        { 'iocp-pool': [ok(1_200_000), ok(1_300_000), ok(1_550_000)], a: [ok(120_000), ok(124_000)], b: [ok(40_000)] },
        { gone: 'skipped' },
      ),
    },
  ],
};

describe('bench values in prose', () => {
  it('gives the median, the spread, the ratio and the label of a subject or of the best reference', () => {
    expect(benchValue('run-tiny/iocp-pool/rate', run)).toBe('1.30 M tasks/s');
    expect(benchValue('run-tiny/iocp-pool/rate:value', run)).toBe('1.30 M');
    expect(benchValue('run-tiny/iocp-pool/rate:range', run)).toBe('1.20 M–1.55 M tasks/s');
    expect(benchValue('run-tiny/iocp-pool/rate:ratio', run)).toBe('10.7×');
    expect(benchValue('run-tiny/best/rate', run)).toBe('122 k tasks/s');
    expect(benchValue('run-tiny/best/rate:label', run)).toBe('peer A');
    expect(benchValue('run/machine', run)).toBe('CPU X, 2 cores, Node 20.20.2');
    expect(benchValue('run/date', run)).toBe('2026-11-22');
    expect(benchValue('run/wall', run)).toBe('16 min 10 s');
  });

  it('refuses a key the run cannot back', () => {
    expect(() => benchValue('nope/iocp-pool/rate', run)).toThrow(/no case nope/);
    expect(() => benchValue('run-tiny/nobody/rate', run)).toThrow(/no subject nobody/);
    expect(() => benchValue('run-tiny/iocp-pool/p50', run)).toThrow(/no metric p50/);
    expect(() => benchValue('run-tiny/iocp-pool/rate:mean', run)).toThrow(/unknown form/);
    expect(() => benchValue('run-tiny/gone/rate', run)).toThrow(/not measured/);
    expect(() => benchValue('run/load', run)).toThrow(/no load/);
  });

  it('rewrites what stands between the markers, and only that', () => {
    const text = [
      'Tiny tasks: <!-- bench:run-tiny/iocp-pool/rate -->1.67 M tasks/s<!-- /bench --> (<!-- bench:run-tiny/iocp-pool/rate:ratio -->14.6×<!-- /bench -->).',
      '<!-- bench:headline:start -->',
      'old',
      '<!-- bench:headline:end -->',
      'After: <!-- bench:run/wall -->?<!-- /bench -->',
    ].join('\n');
    const out = fillValues(text, run);
    expect(out).toContain(
      'Tiny tasks: <!-- bench:run-tiny/iocp-pool/rate -->1.30 M tasks/s<!-- /bench --> (<!-- bench:run-tiny/iocp-pool/rate:ratio -->10.7×<!-- /bench -->).',
    );
    expect(out).toContain('<!-- bench:headline:start -->\nold\n<!-- bench:headline:end -->');
    expect(out).toContain('After: <!-- bench:run/wall -->16 min 10 s<!-- /bench -->');
    expect(benchKeys(text)).toEqual(['run-tiny/iocp-pool/rate', 'run-tiny/iocp-pool/rate:ratio', 'run/wall']);
    const full = renderReadme(text, run);
    expect(full).not.toContain('\nold\n');
  });

  it("writes README.md's headline as results — the run's machine and Node version, iocp-pool against the best other pool — not as targets", () => {
    const latency: CaseDef = {
      id: 'render',
      title: '(9) render a page',
      group: 'workload',
      subjects: def.subjects,
      compareTo: 'peer',
      metrics: [{ key: 'p50', label: 'p50', unit: 'ms', better: 'lower' }],
    };
    const p50 = (ms: number) => ({ ok: true, result: { p50: ms } });
    const text = 'before\n<!-- bench:headline:start -->\nold\n<!-- bench:headline:end -->\nafter';
    const overheadOnly = renderReadme(text, run);
    expect(overheadOnly).toContain('Node 20.20.2');
    expect(overheadOnly).toContain('| tiny tasks | 1.30 M tasks/s | peer A: 122 k tasks/s | 10.7× |');
    expect(overheadOnly).not.toMatch(/target|[✓✗]/);
    expect(overheadOnly).toMatch(/\*\*Real workloads\*\*\n\n\*Not measured yet\*/);
    const withWorkload = renderReadme(text, {
      ...run,
      cases: [...run.cases, { def: latency, summary: summarizeCase(latency, { 'iocp-pool': [p50(2)], a: [p50(3)], b: [p50(5)] }) }],
    });
    // Lower is better here: the advantage is the best peer's 3 ms over iocp-pool's 2 ms.
    expect(withWorkload).toMatch(
      /\*\*Real workloads\*\*\n\n\| scenario [^\n]*\n[^\n]*\n\| render a page \| 2\.00 ms \| peer A: 3\.00 ms \| 1\.50× \|/,
    );
    expect(withWorkload.startsWith('before\n') && withWorkload.endsWith('\nafter')).toBe(true);
  });
});

describe('README.md', () => {
  const readme = readFileSync(new URL('README.md', ROOT), 'utf8');

  it('quotes the stored benchmark run (docs/bench/results.json), as docs/*.md do: `node bench/index.mjs --report` changes nothing', async () => {
    const stored = await loadStoredRun(ROOT);
    expect(benchKeys(readme).length).toBeGreaterThan(0);
    const docs = readdirSync(new URL('docs/', ROOT)).filter((f) => f.endsWith('.md') && f !== 'benchmarks.md');
    for (const name of ['README.md', ...docs.map((f) => `docs/${f}`)]) {
      const text = readFileSync(new URL(name, ROOT), 'utf8');
      expect(renderReadme(text, stored), name).toBe(text);
    }
  });

  it('types no measured number into its prose: each is a bench marker', () => {
    const prose = readme
      .replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1\s*$/gm, '') // code blocks
      .replace(/<!-- bench:headline:start -->[\s\S]*?<!-- bench:headline:end -->/, '') // the generated table
      .replace(/<!-- bench:[^\s>]+ -->[^<]*<!-- \/bench -->/g, '«value»') // generated values
      .replace(/`[^`\n]*`/g, '«code»') // inline code
      .split('\n')
      .filter((line) => !line.startsWith('|')); // tables: API, options, files
    const measured =
      /\d[\d.,]*\s?(?:[µnm]s\b|s\b|sec\b|seconds?\b|min\b|minutes?\b|hours?\b|[kMG]\b|×|%|[KMG]i?B\b|\/s\b|tasks\/s|packets\/s| million\b| thousand\b| billion\b)/;
    expect(prose.filter((line) => measured.test(line))).toEqual([]);
  });
});
