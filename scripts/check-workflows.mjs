// npm run check:workflows: validates every workflow under .github/workflows
// against the hosted CI's schema with action-validator (a WebAssembly build,
// installed from npm as a devDependency: no download at run time).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const cli = require.resolve('@action-validator/cli/cli.mjs');
const dir = new URL('../.github/workflows/', import.meta.url);
const files = readdirSync(dir).filter((name) => /\.ya?ml$/.test(name));
if (files.length === 0) {
  console.error('check:workflows: no workflow in .github/workflows');
  process.exit(1);
}
let failed = 0;
for (const name of files) {
  const path = `.github/workflows/${name}`;
  const run = spawnSync(process.execPath, [cli, path], { stdio: 'inherit' });
  if (run.status === 0) console.log(`check:workflows: ${path} is valid`);
  else failed++;
}
process.exit(failed === 0 ? 0 : 1);
