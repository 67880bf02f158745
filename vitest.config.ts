import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests start real worker threads and stress 2 cores: files run one at a
    // time so a stress test in one file cannot starve a handshake in another.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // npm run coverage. The tests import the built dist/index.js: it must be
    // included to be measured at all, and its source map then reports it per
    // src/ file. Only the test process is measured: code that runs inside the
    // pool's and the tests' worker threads is not counted.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts', 'dist/index.js'],
      reporter: ['text', 'html'],
      reportsDirectory: 'coverage',
    },
  },
});
