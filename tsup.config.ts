import { defineConfig } from 'tsup';

export default defineConfig({
  // worker: the pool thread's runtime (src/entry/worker.ts), loaded by path (new URL('./worker.js', import.meta.url)).
  entry: { index: 'src/index.ts', worker: 'src/entry/worker.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  // import.meta.url in the CJS build (worker file paths) comes from this shim.
  shims: true,
  splitting: false,
});
