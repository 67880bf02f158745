// npm run check:package checks the package as npm would publish it, and leaves the repository as
// it found it: no tarball written, overwritten or deleted in the package's folder.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const gitStatus = () => execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: ROOT, encoding: 'utf8' });

describe('npm run check:package', () => {
  it('passes (publint, arethetypeswrong) without touching a file of the repository', () => {
    const script: string = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).scripts['check:package'];
    // npm test has built dist/ already: the rest of the script is the check.
    const check = script.replace(/^npm run build && /, '');
    const before = gitStatus();
    const tarballsBefore = readdirSync(ROOT).filter((f) => f.endsWith('.tgz'));
    const r = spawnSync('sh', ['-c', check], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, `${check}\n${r.stdout}\n${r.stderr}`).toBe(0);
    expect(gitStatus()).toBe(before);
    expect(readdirSync(ROOT).filter((f) => f.endsWith('.tgz'))).toEqual(tarballsBefore);
    expect(tarballsBefore).toEqual([]);
  }, 120_000);
});
