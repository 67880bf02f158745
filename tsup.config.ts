import { defineConfig } from 'tsup';

export default defineConfig({
  // worker: the pool thread's runtime, loaded by path (new URL('./worker.js', import.meta.url)).
  // bullmq: the iocp-pool/bullmq subpath (its own bundle: the core never loads BullMQ).
  entry: { index: 'src/index.ts', worker: 'src/pool/worker.ts', bullmq: 'src/bullmq/index.ts' },
  // Optional peer dependencies, loaded at run time by the bullmq entry only.
  external: ['bullmq', 'ioredis'],
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
