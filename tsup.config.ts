import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { brotliCompressSync, constants as zlib } from 'node:zlib';
import { build, type Plugin } from 'esbuild';
import { defineConfig, type Options } from 'tsup';

const common: Options = {
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  // tsup builds the configs below in parallel: a `clean` in one would race the
  // other's output, so dist/ is emptied once, here, before either starts.
  clean: false,
};

/**
 * The pool thread's runtime as a string, for applications bundled into one file (esbuild,
 * webpack, rollup…): there dist/iocp-pool-thread.mjs is not next to the bundle, and the pool starts its
 * threads from this copy instead (new Worker(source, { eval: true }): a CommonJS script; see
 * src/pool/main/runtime-source.ts). Two of them: the portable runtime, for the main entry point,
 * and the runtime with the native backend, for `iocp-pool/native`. Minified, then compressed with
 * brotli and written as base64: what an application's bundle carries is the size of that text.
 */
const RUNTIMES: Record<string, string> = {
  'virtual:iocp-pool-worker-source': 'src/entry/worker-portable.ts',
  'virtual:iocp-pool-worker-source-native': 'src/entry/worker.ts',
};
const workerSource: Plugin = {
  name: 'iocp-pool-worker-source',
  setup(plugin) {
    plugin.onResolve({ filter: /^virtual:iocp-pool-worker-source/ }, (args) => ({ path: args.path, namespace: 'worker-source' }));
    plugin.onLoad({ filter: /.*/, namespace: 'worker-source' }, async (args) => {
      const entry = RUNTIMES[args.path];
      if (entry === undefined) throw new Error(`no runtime is called ${args.path}`);
      const out = await build({
        entryPoints: [entry],
        bundle: true,
        write: false,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        minify: true,
        external: ['koffi'],
        logLevel: 'silent',
      });
      const compressed = brotliCompressSync(out.outputFiles[0]!.contents, {
        params: { [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY, [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT },
      });
      return { contents: `export default ${JSON.stringify(compressed.toString('base64'))};`, loader: 'js' };
    });
  },
};

/**
 * The Piscina worker shim (src/piscina/worker.ts) as an ES module's source, for iocp-pool/piscina:
 * a bundled application has no dist/piscina-worker.js beside it, and the shim is then written to a
 * temporary file from this copy (src/piscina/shim-file.ts).
 */
const piscinaWorkerSource: Plugin = {
  name: 'iocp-pool-piscina-worker-source',
  setup(plugin) {
    plugin.onResolve({ filter: /^virtual:iocp-pool-piscina-worker-source$/ }, (args) => ({ path: args.path, namespace: 'piscina-worker-source' }));
    plugin.onLoad({ filter: /.*/, namespace: 'piscina-worker-source' }, async () => {
      const out = await build({
        entryPoints: ['src/piscina/worker.ts'],
        bundle: true,
        write: false,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        minifyWhitespace: true,
        logLevel: 'silent',
      });
      return { contents: `export default ${JSON.stringify(out.outputFiles[0]!.text)};`, loader: 'js' };
    });
  },
};

/**
 * iocp-pool/piscina imports the pool as 'iocp-pool' (external: one copy of the pool's classes);
 * its declarations are built before dist/index.d.ts exists, so they read the types from src/.
 */
const piscinaDts = { compilerOptions: { paths: { 'iocp-pool': ['./src/index.ts'] } } };

/** Piscina.version: the package's version, written into the bundle (a bundled application has no package.json to read). */
const piscinaDefine = { __IOCP_POOL_VERSION__: JSON.stringify(JSON.parse(readFileSync('package.json', 'utf8')).version) };

export default defineConfig(() => {
  rmSync('dist', { recursive: true, force: true });
  return [
    {
      ...common,
      // The main entry point and iocp-pool/native, which exports it all again with the Win32
      // layer: built together and split, so that both share one copy of the port and the pool
      // (one registry of the native backend, one class per error), in ESM and in CJS alike.
      entry: { index: 'src/index.ts', native: 'src/entry/native.ts' },
      format: ['esm', 'cjs'],
      splitting: true,
      dts: true,
      // import.meta.url in the CJS build (the worker file's path) comes from this shim.
      shims: true,
      esbuildPlugins: [workerSource],
    },
    {
      ...common,
      // The pool thread's runtime, loaded by path (new URL('./iocp-pool-thread.mjs', import.meta.url))
      // from both the ESM and the CJS entry: always as ESM, so no CJS copy and no types. Named
      // .mjs so that it is ESM wherever it is copied — webpack, for one, emits it as an asset
      // under a name of its own, beside no package.json that says "type": "module".
      entry: { 'iocp-pool-thread': 'src/entry/worker.ts' },
      format: ['esm'],
      outExtension: () => ({ js: '.mjs' }),
      dts: false,
    },
    {
      ...common,
      // iocp-pool/bullmq, its own bundle: the core never loads BullMQ. bullmq and ioredis are
      // optional peer dependencies, loaded at run time (createRequire, hence the CJS shim).
      entry: { bullmq: 'src/bullmq/index.ts' },
      format: ['esm', 'cjs'],
      dts: true,
      shims: true,
      external: ['bullmq', 'ioredis'],
    },
    {
      ...common,
      // iocp-pool/piscina, its own bundle: piscina's API over the ThreadPool, which it imports
      // by the package's own name (an external), so the pool's classes are not bundled twice.
      entry: { piscina: 'src/piscina/index.ts' },
      format: ['esm'],
      dts: piscinaDts,
      external: ['iocp-pool'],
      define: piscinaDefine,
      esbuildPlugins: [piscinaWorkerSource],
    },
    {
      ...common,
      // Its CommonJS build: require('iocp-pool/piscina') is the class itself (export =), as piscina's.
      entry: { piscina: 'src/piscina/index.cts' },
      format: ['cjs'],
      // Its declarations say `export =` (the bundler of declarations would turn it into a default
      // export): written by hand over the ES module's, copied beside them.
      dts: false,
      onSuccess: async () => copyFileSync('src/piscina/require.d.cts', 'dist/piscina.d.cts'),
      shims: true,
      external: ['iocp-pool'],
      define: piscinaDefine,
      esbuildPlugins: [piscinaWorkerSource],
    },
    {
      ...common,
      // The worker module every Piscina's ThreadPool loads: it loads the user's modules as piscina does.
      entry: { 'piscina-worker': 'src/piscina/worker.ts' },
      format: ['esm'],
      dts: false,
    },
    {
      ...common,
      // The port's RING on its own, for the benchmarks (bench/workers/primitive.mjs measures the
      // bare queue under the port with it): not exported, not in the package (package.json files).
      entry: { 'internal/ring': 'src/port/portable/ring.ts' },
      format: ['esm'],
      dts: false,
    },
  ];
});
