// The package's CommonJS entry, as `require('iocp-pool')` loads it: a port
// round trip and a pool task (the pool thread's runtime is ESM either way).
const assert = require('node:assert/strict');
const { CompletionPort, ThreadPool } = require('iocp-pool');

const port = new CompletionPort({ concurrency: 1 });
assert.equal(port.post(1, 2, 3), true);
assert.deepEqual(port.get(0), { bytesTransferred: 1, completionKey: 2, overlapped: 3 });
port.close();
const pool = new ThreadPool({
  filename: require('node:path').join(__dirname, 'handler.mjs'),
  threads: 1,
  workerData: { counter: new Int32Array(new SharedArrayBuffer(8)) },
});
pool
  .run({ n: 41 })
  .then((result) => {
    assert.equal(result, 42);
    return pool.close();
  })
  .then(
    () => console.log('require: 1 passed, 0 failed'),
    (error) => {
      console.log(`not ok - require('iocp-pool'): ${error?.stack ?? error}\nrequire: 0 passed, 1 failed`);
      process.exitCode = 1;
    },
  );
