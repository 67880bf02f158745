// iocp-pool/piscina as a user installs it (the packed tarball in an application outside the
// repository), in ESM and CommonJS, and bundled by esbuild.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownStderr } from '../child-stderr.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function node(cwd: string, args: string[], timeout = 30_000): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const WORKER = `
const Piscina = require('iocp-pool/piscina');
module.exports = (task) => ({ sum: task.a + task.b, inWorker: Piscina.isWorkerThread, data: Piscina.workerData });
`;

describe('iocp-pool/piscina: the packed package', () => {
  let app: string;
  beforeAll(() => {
    app = mkdtempSync(path.join(tmpdir(), 'iocp-pool-piscina-app-'));
    const packed = mkdtempSync(path.join(tmpdir(), 'iocp-pool-pack-'));
    execFileSync('npm', ['pack', '--silent', '--pack-destination', packed], { cwd: root, stdio: 'ignore' });
    const installed = path.join(app, 'node_modules', 'iocp-pool');
    mkdirSync(installed, { recursive: true });
    const [tarball] = execFileSync('ls', [packed], { encoding: 'utf8' }).trim().split('\n');
    execFileSync('tar', ['-xzf', path.join(packed, tarball!), '-C', installed, '--strip-components=1']);
    rmSync(packed, { recursive: true, force: true });
    writeFileSync(path.join(app, 'worker.cjs'), WORKER);
  }, 120_000);
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  it('ESM: the default export and the named Piscina are the class; a pool runs the worker module', () => {
    const program = `
      import Piscina, { Piscina as Named, isWorkerThread, move } from 'iocp-pool/piscina';
      const pool = new Piscina({ filename: new URL('./worker.cjs', import.meta.url).href, workerData: 'W' });
      const result = await pool.run({ a: 2, b: 3 });
      await pool.close();
      console.log(JSON.stringify({ same: Piscina === Named && Piscina.Piscina === Piscina && Piscina.move === move, isWorkerThread, result }));`;
    // A file, not -e: the pool's threads inherit the main thread's Node options, and --input-type is not one a thread may have.
    writeFileSync(path.join(app, 'main.mjs'), program);
    const out = node(app, ['main.mjs']);
    expect(ownStderr(out.stderr)).toBe('');
    expect(JSON.parse(out.stdout)).toEqual({ same: true, isWorkerThread: false, result: { sum: 5, inWorker: true, data: 'W' } });
  });

  it("CommonJS: require('iocp-pool/piscina') is the class itself, with piscina's statics", () => {
    const program = `
      const Piscina = require('iocp-pool/piscina');
      const pool = new Piscina({ filename: require('node:path').resolve('worker.cjs') });
      pool.run({ a: 1, b: 1 }).then(async (result) => {
        await pool.destroy();
        console.log(JSON.stringify({ type: typeof Piscina, self: Piscina.Piscina === Piscina, move: typeof Piscina.move, version: Piscina.version, result }));
      });`;
    writeFileSync(path.join(app, 'main.cjs'), program);
    const out = node(app, ['main.cjs']);
    expect(ownStderr(out.stderr)).toBe('');
    const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
    expect(JSON.parse(out.stdout)).toEqual({
      type: 'function',
      self: true,
      move: 'function',
      version,
      result: { sum: 2, inWorker: true },
    });
  });

  it('types: require() is the class (export =) with its types as Piscina.X; import has default and named exports', () => {
    for (const dep of ['@types/node', 'undici-types']) {
      mkdirSync(path.dirname(path.join(app, 'node_modules', dep)), { recursive: true });
      symlinkSync(path.join(root, 'node_modules', dep), path.join(app, 'node_modules', dep));
    }
    writeFileSync(
      path.join(app, 'types.cts'),
      `import Piscina = require('iocp-pool/piscina');
       const options: Piscina.PiscinaOptions = { filename: __dirname + '/worker.cjs', maxThreads: 2 };
       const pool: Piscina<number, number> = new Piscina<number, number>(options);
       const result: Promise<number> = pool.run(1, { name: 'x' });
       const moved: Uint8Array = Piscina.move(new Uint8Array(1));
       const queue: Piscina.TaskQueue = new Piscina.ArrayTaskQueue();
       export { result, moved, queue };`,
    );
    writeFileSync(
      path.join(app, 'types.mts'),
      `import Piscina, { type PiscinaOptions, move } from 'iocp-pool/piscina';
       const options: PiscinaOptions = { filename: new URL('./worker.cjs', import.meta.url) };
       export const result: Promise<unknown> = new Piscina(options).run(move(new Uint8Array(1)));`,
    );
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [tsc, '--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022', '--types', 'node'];
    const out = node(app, [...args, 'types.cts', 'types.mts'], 120_000);
    expect(out.stdout + ownStderr(out.stderr)).toBe('');
    expect(out.status).toBe(0);
  }, 150_000); // tsc on a busy 2-core machine

  it('the subpath bundles no copy of the pool: it imports iocp-pool by name', () => {
    for (const file of ['piscina.js', 'piscina.cjs']) {
      const source = readFileSync(path.join(app, 'node_modules', 'iocp-pool', 'dist', file), 'utf8');
      expect(source).not.toMatch(/\bThreadPool\d* = class\b|class ThreadPool\b/);
      expect(source).toMatch(/from "iocp-pool"|require\("iocp-pool"\)/);
    }
  });

  it('bundled by esbuild: one ThreadPool class in the bundle, and it runs away from node_modules', async () => {
    writeFileSync(
      path.join(app, 'app.mjs'),
      `import Piscina from 'iocp-pool/piscina';
       const pool = new Piscina({ filename: process.argv[2] });
       console.log(JSON.stringify(await pool.run({ a: 20, b: 22 })));
       await pool.close();`,
    );
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'iocp-pool-piscina-bundle-'));
    try {
      const outfile = path.join(elsewhere, 'app.mjs');
      await build({ entryPoints: [path.join(app, 'app.mjs')], bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'silent' });
      // esbuild writes a class as `var Name = class …`, and renames a second copy Name2.
      expect(readFileSync(outfile, 'utf8').match(/\bThreadPool\d* = class\b|class ThreadPool\b/g)).toHaveLength(1);
      // A worker module with no imports: the bundle's directory has no node_modules.
      const worker = path.join(elsewhere, 'worker.cjs');
      writeFileSync(worker, 'module.exports = (task) => ({ sum: task.a + task.b });');
      const out = node(elsewhere, [outfile, worker]);
      expect(ownStderr(out.stderr)).toBe('');
      expect(JSON.parse(out.stdout)).toEqual({ sum: 42 });
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});
