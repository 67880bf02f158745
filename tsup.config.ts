import { copyFileSync, readFileSync, rmSync } from 'node:fs';
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
 * The pool thread's runtime as a string, for the main bundle: when an application is bundled
 * (esbuild, webpack, rollup…) dist/worker.js is not next to the bundle, and the pool starts its
 * threads from this copy instead (new Worker(source, { eval: true }): a CommonJS script).
 */
const workerSource: Plugin = {
  name: 'iocp-pool-worker-source',
  setup(plugin) {
    plugin.onResolve({ filter: /^virtual:iocp-pool-worker-source$/ }, (args) => ({ path: args.path, namespace: 'worker-source' }));
    plugin.onLoad({ filter: /.*/, namespace: 'worker-source' }, async () => {
      const out = await build({
        entryPoints: ['src/entry/worker.ts'],
        bundle: true,
        write: false,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        minifyWhitespace: true,
        external: ['koffi'],
        logLevel: 'silent',
      });
      return { contents: `export default ${JSON.stringify(out.outputFiles[0]!.text)};`, loader: 'js' };
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
      entry: { index: 'src/index.ts' },
      format: ['esm', 'cjs'],
      dts: true,
      // import.meta.url in the CJS build (the worker file's path) comes from this shim.
      shims: true,
      esbuildPlugins: [workerSource],
    },
    {
      ...common,
      // The pool thread's runtime, loaded by path (new URL('./worker.js', import.meta.url))
      // from both the ESM and the CJS entry: always as ESM, so no CJS copy and no types.
      entry: { worker: 'src/entry/worker.ts' },
      format: ['esm'],
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
