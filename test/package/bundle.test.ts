// A one-line run() app bundled and minified by esbuild, as a user bundles it: how big it is, that
// it leaves the Win32 layer out, and that it runs with nothing of the package beside it — the pool
// starting its threads from the runtime inlined in the main entry point. And an app that asks for
// the native backend (iocp-pool/native): the Win32 layer comes along, and off Windows the pool
// says why it cannot have it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { ownStderr } from '../child-stderr.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The bound on the minified bundle of a one-line run() app, in bytes. What it holds, measured with
 * esbuild 0.27 and a source map: the main thread's code of the pool (45 kB), port (32 kB), codec
 * (22 kB) and shared heap (18 kB), minified by the app's bundler, and the pool thread's runtime,
 * minified and brotli-compressed at the package's build (35 kB as base64) — 152 kB in all. The
 * runtime must be a copy: a pool thread cannot run code of the main thread's bundle, so the port,
 * heap and codec are there twice. The bound leaves ~5 % for growth: a change that needs more says
 * why here.
 */
const MAX_BYTES = 160_000;

const work = mkdtempSync(join(tmpdir(), 'iocp-pool-bundle-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** An app folder whose node_modules/iocp-pool is this package (as an install links it). */
function app(name: string, code: string): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(ROOT, join(dir, 'node_modules', 'iocp-pool'), 'dir');
  writeFileSync(join(dir, 'app.mjs'), code);
  writeFileSync(join(dir, 'worker.mjs'), 'export default (x) => x * 21;\n');
  return dir;
}

/** `esbuild app.mjs --bundle --minify --platform=node --format=esm --external:koffi`, into a folder of its own with only the worker module beside it. */
async function bundle(dir: string): Promise<{ file: string; bytes: number; text: string }> {
  const out = join(dir, 'shipped');
  mkdirSync(out);
  await build({
    entryPoints: [join(dir, 'app.mjs')],
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    external: ['koffi'],
    outfile: join(out, 'app.mjs'),
    logLevel: 'silent',
  });
  copyFileSync(join(dir, 'worker.mjs'), join(out, 'worker.mjs'));
  const file = join(out, 'app.mjs');
  return { file, bytes: statSync(file).size, text: readFileSync(file, 'utf8') };
}

function run(file: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [file], { cwd: join(file, '..'), encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Strings only the Win32 layer holds.
const WIN32 = ['kernel32.dll', 'GetQueuedCompletionStatusEx', 'ws2_32.dll'];

describe('a bundled one-line run() app (esbuild --bundle --minify)', () => {
  it(`is at most ${MAX_BYTES.toLocaleString('en-US')} bytes, carries no Win32 layer, and runs with nothing of the package beside it`, async () => {
    const dir = app(
      'run',
      [
        "import { ThreadPool } from 'iocp-pool';",
        "const pool = new ThreadPool({ filename: new URL('./worker.mjs', import.meta.url) });",
        'console.log(await pool.run(2));',
        'await pool.close();',
        '',
      ].join('\n'),
    );
    const { file, bytes, text } = await bundle(dir);
    expect(bytes, `the bundle is ${bytes} bytes`).toBeLessThanOrEqual(MAX_BYTES);
    for (const name of WIN32) expect(text.includes(name), `the bundle holds ${name}`).toBe(false);
    const r = run(file);
    expect(ownStderr(r.stderr)).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('42\n');
  }, 60_000);

  it("asks for the native backend with iocp-pool/native: the Win32 layer is in, portable pools still run, and off Windows backend 'native' says why it cannot be", async () => {
    const dir = app(
      'native',
      [
        "import { NativeBackendUnavailableError, ThreadPool } from 'iocp-pool/native';",
        "const pool = new ThreadPool({ filename: new URL('./worker.mjs', import.meta.url), threads: 1 });",
        'console.log(await pool.run(3));',
        'await pool.close();',
        'try {',
        "  new ThreadPool({ filename: new URL('./worker.mjs', import.meta.url), backend: 'native' });",
        "  console.log('native pool created');",
        '} catch (error) {',
        "  console.log(error instanceof NativeBackendUnavailableError, error.code, error.message.includes(process.platform === 'win32' ? 'koffi' : 'it needs Windows'));",
        '}',
        '',
      ].join('\n'),
    );
    const { file, text } = await bundle(dir);
    for (const name of WIN32) expect(text.includes(name), `the bundle holds ${name}`).toBe(true);
    const r = run(file);
    expect(ownStderr(r.stderr)).toBe('');
    expect(r.status).toBe(0);
    const expected = process.platform === 'win32' ? /^63\n/ : /^63\ntrue ERR_IOCP_NATIVE_UNAVAILABLE true\n$/;
    expect(r.stdout).toMatch(expected);
  }, 60_000);
});
