import { rmSync } from 'node:fs';
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
      // The port's RING on its own, for the benchmarks (bench/workers/primitive.mjs measures the
      // bare queue under the port with it): not exported, not in the package (package.json files).
      entry: { 'internal/ring': 'src/port/portable/ring.ts' },
      format: ['esm'],
      dts: false,
    },
  ];
});
