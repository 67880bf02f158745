// The documentation runs as written: every JavaScript/TypeScript block of README.md and docs/*.md
// is marked (run, file=NAME, fragment: test/docs/snippets.ts), and every program they make runs
// against the built package, exits 0 within its time, prints nothing on stderr and, where its
// comments say `// → …`, prints those lines in that order.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Block, extractBlocks, type Program, programs, slug } from './snippets.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Inside the package root: `import 'iocp-pool'` resolves to this package (self-reference through
// package.json "exports"), i.e. the built dist/. Git-ignored.
const SCRATCH = join(ROOT, '.cache', 'snippets');
const TIMEOUT_MS = 30_000;
// Programs running at once (each starts a process and its pool's threads; the machine has 2 cores).
const AT_ONCE = 3;

/** README.md, CONTRIBUTING.md and docs/*.md; not docs/benchmarks.md (generated), not docs/api/ (generated). */
function documents(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md') && f !== 'benchmarks.md')
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', 'CONTRIBUTING.md', ...docs];
}

const blocks: Block[] = [];
const errors: string[] = [];
for (const doc of documents()) {
  const r = extractBlocks(doc, readFileSync(join(ROOT, doc), 'utf8'));
  blocks.push(...r.blocks);
  errors.push(...r.errors);
}
const planned = programs(blocks);
errors.push(...planned.errors);

function write(p: Program, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of [...p.files, p.main]) writeFileSync(join(dir, f.name), f.code);
}

let running = 0;
const queue: (() => void)[] = [];
async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= AT_ONCE) await new Promise<void>((resolve) => queue.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    queue.shift()?.();
  }
}

function run(p: Program, dir: string): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  const args = p.lang === 'ts' ? ['--import', 'tsx', p.main.name] : [p.main.name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/** Whether every expected line is printed, in order (worker threads' lines may come between). */
function inOrder(stdout: string, expected: string[]): boolean {
  let i = 0;
  for (const line of stdout.split('\n')) if (i < expected.length && line.trimEnd() === expected[i]) i++;
  return i === expected.length;
}

describe('documentation code blocks', () => {
  it('every JavaScript/TypeScript block is marked run, file=NAME or fragment', () => {
    expect(errors).toEqual([]);
  });

  it('has programs to run (the extractor found the blocks)', () => {
    expect(planned.programs.length).toBeGreaterThan(0);
    expect(planned.programs.some((p) => p.doc === 'README.md')).toBe(true);
  });

  it('dist/ is built (npm test builds first)', () => {
    expect(existsSync(join(ROOT, 'dist', 'index.js'))).toBe(true);
  });

  // Every folder is written before any program runs: the programs then run side by side (they
  // wait on process start-up and module loading more than on the CPU), and none rewrites another's.
  const dirs = new Map(planned.programs.map((p) => [p, join(SCRATCH, slug(p.doc), slug(p.section))]));
  beforeAll(() => {
    for (const p of planned.programs) write(p, dirs.get(p)!);
  });

  for (const p of planned.programs) {
    it.concurrent(`${p.id} (line ${p.lines.join(', ')}) runs`, async () => {
      const dir = dirs.get(p)!;
      const r = await slot(() => run(p, dir));
      const what = `${p.id}, in ${dir}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
      expect(r.timedOut, `did not exit within ${TIMEOUT_MS} ms: ${what}`).toBe(false);
      expect(r.code, `exit code ${r.code}: ${what}`).toBe(0);
      expect(r.stderr, `printed on stderr: ${what}`).toBe('');
      if (p.expected) expect(inOrder(r.stdout, p.expected), `stdout lacks its // → lines, in order (${p.expected.join(' | ')}): ${what}`).toBe(true);
    });
  }

  // Type-checked as a user's strict project would (tsx only strips types): one program over
  // every ts section, resolving iocp-pool to dist/index.d.ts by the same self-reference.
  const typed = planned.programs.filter((p) => p.lang === 'ts' || p.files.some((f) => /\.[mc]?ts$/.test(f.name)));
  it.skipIf(typed.length === 0)('TypeScript programs type-check (strict)', () => {
    const roots: string[] = [];
    for (const p of typed) {
      const dir = dirs.get(p)!;
      for (const f of [...p.files, p.main]) if (/\.[mc]?ts$/.test(f.name)) roots.push(join(dir, f.name));
    }
    const program = ts.createProgram(roots, {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
      skipLibCheck: true,
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (!d.file || d.start === undefined) return text;
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      return `${d.file.fileName.slice(SCRATCH.length + 1)}:${line + 1}: ${text}`;
    });
    expect(diagnostics).toEqual([]);
  });
});

describe('the snippet convention', () => {
  it('rejects an unmarked block, an unknown mark and a file no program runs', () => {
    const doc = ['# A', '```js', 'x()', '```', '## B', '```js runn', '```', '## C', '```js file=w.mjs', 'export default 1', '```'].join('\n');
    const r = extractBlocks('x.md', doc);
    expect(r.errors).toHaveLength(2);
    expect(r.errors[0]).toMatch(/^x\.md:2: /);
    expect(r.errors[1]).toMatch(/^x\.md:6: /);
    expect(programs(r.blocks).errors[0]).toMatch(/x\.md:9: file=w\.mjs .* no run block/);
  });

  it("joins a section's run blocks in order, writes its files, reads // → as expected output", () => {
    const doc = [
      '## Tour',
      '```js run',
      'const a = 1;',
      '```',
      'prose',
      '```js file=w.mjs',
      'export default 2;',
      '```',
      '```js run',
      "console.log(a + (await import('./w.mjs')).default); // → 3",
      '```',
      '```sh',
      'npm test',
      '```',
      '```js fragment',
      'for (;;) port.get();',
      '```',
    ].join('\n');
    const r = extractBlocks('y.md', doc);
    expect(r.errors).toEqual([]);
    const p = programs(r.blocks);
    expect(p.errors).toEqual([]);
    expect(p.programs).toHaveLength(1);
    expect(p.programs[0]!.lines).toEqual([2, 9]);
    expect(p.programs[0]!.files.map((f) => f.name)).toEqual(['w.mjs']);
    expect(p.programs[0]!.main.code).toContain('const a = 1;');
    expect(p.programs[0]!.expected).toEqual(['3']);
  });
});
