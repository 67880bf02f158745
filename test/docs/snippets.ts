/**
 * The code blocks of README.md and docs/*.md, read as programs.
 *
 * The convention (CONTRIBUTING.md has it for writers): the info string of every JavaScript or
 * TypeScript block says what the block is —
 *
 *   ```js run            a program: run as the main module (top-level await allowed)
 *   ```ts run            the same, through tsx, and type-checked
 *   ```js file=NAME      a file written next to the section's program (a worker module…), not run
 *   ```js fragment       not run: an excerpt, a signature list, a worker-only loop…
 *
 * A section is the text under one heading (any level). The `run` blocks of a section are one
 * program, in order, so a tour may split a program with prose; its `file=` blocks are written
 * into the same folder first, wherever they stand in the section. A comment `// → text` ending a
 * line of a run block is a line the program must print; the program prints them in that order
 * (other lines, such as a worker thread's, may come between).
 *
 * A block with no mark, an unknown mark, or a section whose files no program runs is an error:
 * nobody adds an unclassified block.
 */

/** Languages the convention covers; shell, text and the rest are never run. */
const JS = new Set(['js', 'javascript', 'mjs', 'cjs', 'jsx']);
const TS = new Set(['ts', 'typescript', 'mts', 'cts', 'tsx']);

export interface Block {
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: 'js' | 'ts';
  kind: 'run' | 'file' | 'fragment';
  file?: string;
  section: string;
  code: string;
}

export interface Program {
  /** e.g. `README.md › Thread pool` */
  id: string;
  doc: string;
  section: string;
  /** Lines of the run blocks, for messages. */
  lines: number[];
  lang: 'js' | 'ts';
  files: { name: string; code: string }[];
  main: { name: string; code: string };
  /** Expected stdout lines (from `// →` comments), or null when the program states none. */
  expected: string[] | null;
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*(.*)$/;
const HEADING = /^#{1,6}\s+(.*?)\s*#*\s*$/;
const FILE_NAME = /^[\w.-]+\.(?:mjs|cjs|js|mts|cts|ts|json)$/;

/** Splits a document into its JS/TS blocks; `errors` lists the blocks that break the convention. */
export function extractBlocks(doc: string, text: string): { blocks: Block[]; errors: string[] } {
  const blocks: Block[] = [];
  const errors: string[] = [];
  const lines = text.split('\n');
  let section = '(top)';
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) {
      const h = HEADING.exec(lines[i]!);
      if (h) section = h[1]!.replace(/`/g, '');
      continue;
    }
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim().startsWith(fence[0]!.repeat(fence.length)) && l.trim().replace(/[`~]/g, '') === '') break;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart());
    }
    const where = `${doc}:${i + 1}`;
    if (j === lines.length) errors.push(`${where}: code block never closed`);
    const [word = '', ...marks] = info.trim().split(/\s+/);
    const lang = JS.has(word) ? 'js' : TS.has(word) ? 'ts' : null;
    i = j;
    if (lang === null) continue; // sh, text, json…: not programs
    let kind: Block['kind'] | null = null;
    let file: string | undefined;
    let bad = false;
    for (const m of marks) {
      if (m === 'run' || m === 'fragment' || m.startsWith('file=')) {
        if (kind !== null) bad = true;
        kind = m.startsWith('file=') ? 'file' : (m as 'run' | 'fragment');
        if (kind === 'file') file = m.slice(5);
      } else bad = true;
    }
    if (kind === null || bad) {
      errors.push(`${where}: \`\`\`${info.trim()} — mark the block: \`\`\`${word} run, \`\`\`${word} file=NAME or \`\`\`${word} fragment`);
      continue;
    }
    if (kind === 'file' && !FILE_NAME.test(file!)) {
      errors.push(`${where}: file=${file} — a plain file name (letters, digits, . _ -) with a JS/TS/JSON extension`);
      continue;
    }
    blocks.push({ doc, line: i - body.length, lang, kind, file, section, code: body.join('\n') });
  }
  return { blocks, errors };
}

const EXPECT = /\/\/\s*→\s?(.*)$/;

/** Groups a document's blocks into one program per section with run blocks. */
export function programs(blocks: Block[]): { programs: Program[]; errors: string[] } {
  const out: Program[] = [];
  const errors: string[] = [];
  const bySection = new Map<string, Block[]>();
  for (const b of blocks) {
    if (b.kind === 'fragment') continue;
    const key = `${b.doc}\0${b.section}`;
    bySection.set(key, [...(bySection.get(key) ?? []), b]);
  }
  for (const list of bySection.values()) {
    const { doc, section } = list[0]!;
    const runs = list.filter((b) => b.kind === 'run');
    const files = list.filter((b) => b.kind === 'file');
    if (runs.length === 0) {
      errors.push(`${doc}:${files[0]!.line}: file=${files[0]!.file} in section "${section}", which has no run block: nothing would run it`);
      continue;
    }
    const langs = new Set(runs.map((b) => b.lang));
    if (langs.size > 1) errors.push(`${doc}:${runs[0]!.line}: section "${section}" mixes js run and ts run blocks`);
    const lang = runs[0]!.lang;
    const seen = new Set<string>();
    for (const f of files) {
      if (seen.has(f.file!)) errors.push(`${doc}:${f.line}: file=${f.file} twice in section "${section}"`);
      seen.add(f.file!);
    }
    const code = runs.map((b) => `// ${doc}:${b.line}\n${b.code}`).join('\n');
    const expected = code
      .split('\n')
      .map((l) => EXPECT.exec(l)?.[1]?.trimEnd())
      .filter((l): l is string => l !== undefined);
    out.push({
      id: `${doc} › ${section}`,
      doc,
      section,
      lines: runs.map((b) => b.line),
      lang,
      files: files.map((f) => ({ name: f.file!, code: `${f.code}\n` })),
      main: { name: lang === 'ts' ? 'main.mts' : 'main.mjs', code: `${code}\n` },
      expected: expected.length > 0 ? expected : null,
    });
  }
  return { programs: out, errors };
}

/** A folder name for a program: its document and section, lower-case, [a-z0-9-]. */
export function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 60) || 'top'
  );
}
