#!/usr/bin/env node
// npm run check:docs — the API reference cannot go stale: typedoc writes it again into a scratch
// folder with every warning an error (a missing doc comment on an export, a broken {@link}), and
// the run fails if docs/api/ differs from it. Fix: `npm run docs:api`, then commit docs/api/.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const COMMITTED = join(ROOT, 'docs', 'api');
const fresh = mkdtempSync(join(tmpdir(), 'iocp-pool-api-'));

function files(dir) {
  const out = new Map();
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  try {
    walk(dir);
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  return out;
}

try {
  const typedoc = join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
  const r = spawnSync(process.execPath, [typedoc, '--treatWarningsAsErrors', '--out', fresh], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('check:docs: typedoc failed or warned (above): fix the doc comments in src/');
    process.exit(1);
  }
  const want = files(fresh);
  const have = files(COMMITTED);
  const stale = [];
  for (const [name, text] of want)
    if (have.get(name) !== text) stale.push(have.has(name) ? `changed: docs/api/${name}` : `missing: docs/api/${name}`);
  for (const name of have.keys()) if (!want.has(name)) stale.push(`extra:   docs/api/${name}`);
  if (stale.length > 0) {
    console.error(`check:docs: docs/api/ is not what the doc comments give (${stale.length} file(s)):`);
    for (const s of stale) console.error(`  ${s}`);
    console.error('run `npm run docs:api` and commit docs/api/');
    process.exit(1);
  }
  console.log(`check:docs: docs/api/ is up to date (${want.size} files), no typedoc warnings`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
