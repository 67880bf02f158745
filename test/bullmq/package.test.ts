// The iocp-pool/bullmq subpath as a user installs it: ESM and CommonJS, with and without bullmq.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownStderr } from '../child-stderr.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function node(cwd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('iocp-pool/bullmq: the package subpath', () => {
  // An application directory with iocp-pool installed and no bullmq anywhere up its tree.
  let app: string;
  beforeAll(() => {
    app = mkdtempSync(path.join(tmpdir(), 'iocp-pool-app-'));
    const installed = path.join(app, 'node_modules', 'iocp-pool');
    mkdirSync(installed, { recursive: true });
    cpSync(path.join(root, 'package.json'), path.join(installed, 'package.json'));
    cpSync(path.join(root, 'dist'), path.join(installed, 'dist'), { recursive: true });
  });
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  it('without bullmq installed, importing it throws an error that names the install command (ESM and CommonJS)', () => {
    const esm = node(app, ['--input-type=module', '-e', "await import('iocp-pool/bullmq')"]);
    expect(esm.status).not.toBe(0);
    expect(esm.stderr).toContain('iocp-pool/bullmq needs the bullmq package');
    expect(esm.stderr).toContain('npm install bullmq');
    const cjs = node(app, ['-e', "require('iocp-pool/bullmq')"]);
    expect(cjs.status).not.toBe(0);
    expect(cjs.stderr).toContain('npm install bullmq');
  });

  it('without bullmq installed, the core package loads and runs (it never imports bullmq)', () => {
    const esm = node(app, ['--input-type=module', '-e', "const { ThreadPool } = await import('iocp-pool'); console.log(typeof ThreadPool)"]);
    expect(ownStderr(esm.stderr)).toBe('');
    expect(esm.stdout.trim()).toBe('function');
    const cjs = node(app, ['-e', "console.log(typeof require('iocp-pool').ThreadPool)"]);
    expect(cjs.stdout.trim()).toBe('function');
  });

  it('with bullmq installed, both builds export createWorker and closeWorker', () => {
    const probe = 'console.log(typeof m.createWorker, typeof m.closeWorker)';
    const esm = node(root, ['--input-type=module', '-e', `const m = await import('iocp-pool/bullmq'); ${probe}`]);
    expect(ownStderr(esm.stderr)).toBe('');
    expect(esm.stdout.trim()).toBe('function function');
    const cjs = node(root, ['-e', `const m = require('iocp-pool/bullmq'); ${probe}`]);
    expect(ownStderr(cjs.stderr)).toBe('');
    expect(cjs.stdout.trim()).toBe('function function');
  });
});
