// After `npm install`, run `node scripts/lockfile-optional-stubs.mjs`.
//
// Why: the npm registry reachable from this project's machines answers 404
// for some optional platform packages (e.g. @rollup/rollup-darwin-arm64).
// `npm install` then writes a lockfile without entries for them while the
// parent's entry still lists them in optionalDependencies, and `npm ci`
// refuses that lockfile ("Missing: ... from lock file"). A plain
// { version, dev, optional } entry satisfies npm ci, which skips optional
// packages for other platforms without fetching them.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
let added = 0;
for (const [where, entry] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const base = where === '' ? 'node_modules' : `${where}/node_modules`;
    // npm resolves a dependency at the nearest node_modules up the tree.
    let found = false;
    for (let dir = base; ; ) {
      if (packages[`${dir}/${name}`]) {
        found = true;
        break;
      }
      const up = dir.lastIndexOf('/node_modules', dir.length - '/node_modules'.length - 1);
      if (up < 0) break;
      dir = dir.slice(0, up + '/node_modules'.length);
    }
    if (found || where === '' || packages[`node_modules/${name}`]) continue;
    const version = String(range).replace(/^[\^~=]/, '');
    packages[`node_modules/${name}`] = { version, dev: entry.dev ?? undefined, optional: true };
    added++;
  }
}
// Keep npm's ordering: sorted by path.
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)));
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile: added ${added} stub entries for optional packages the registry does not serve`);
