#!/usr/bin/env node
// npm run check:package (after the build): are the package's exports and types right for every
// resolver? publint --strict, then arethetypeswrong on the tarball npm would publish — packed
// into a temporary folder, so that the check leaves nothing in the repository (`attw --pack .`
// writes the tarball into the package's own folder).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const bin = (name) => join(ROOT, 'node_modules', '.bin', name);

function run(command, args, options = {}) {
  const r = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', ...options });
  if (r.status !== 0) process.exit(r.status ?? 1);
  return r;
}

run(bin('publint'), ['--strict']);
const dir = mkdtempSync(join(tmpdir(), 'iocp-pool-pack-'));
try {
  const packed = run('npm', ['pack', '--json', '--pack-destination', dir], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  const [{ filename }] = JSON.parse(packed.stdout);
  run(bin('attw'), [join(dir, filename)]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
