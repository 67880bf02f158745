import { rmSync } from 'node:fs';
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
    },
    {
      ...common,
      // The pool thread's runtime, loaded by path (new URL('./worker.js', import.meta.url))
      // from both the ESM and the CJS entry: always as ESM, so no CJS copy and no types.
      entry: { worker: 'src/entry/worker.ts' },
      format: ['esm'],
      dts: false,
    },
  ];
});
