/**
 * Where the worker shim is: dist/piscina-worker.js beside this bundle, as installed. When an
 * application is bundled (esbuild, webpack…) that file is not beside the bundle, and the ThreadPool
 * loads its worker module by file: URL: the shim's source, inlined at build time, is written once
 * into the temporary directory, under a name that is its content hash (so versions never mix and
 * a second process reuses it).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import source from 'virtual:iocp-pool-piscina-worker-source';

let cached: URL | undefined;

/** The file: URL of the worker shim. */
export function shimFilename(): URL {
  if (cached !== undefined) return cached;
  const beside = new URL('./piscina-worker.js', import.meta.url);
  if (beside.protocol === 'file:' && existsSync(fileURLToPath(beside))) return (cached = beside);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'iocp-pool-piscina');
  const file = join(dir, `worker-${hash}.mjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    // Written beside and renamed: a concurrent process never loads half a file.
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, source);
    renameSync(partial, file);
  }
  return (cached = pathToFileURL(file));
}
