// ThreadPool on a given backend: the pool's contract that does not depend on
// the port's implementation — run(), queueRequest(), close() by sentinels
// after the queued work — run by the Windows runner on the native backend
// ("the pool works on either backend unchanged").
import assert from 'node:assert/strict';

export function poolSuite({ describe, it }, { lib, backend }) {
  const { ThreadPool, CompletionPort } = lib;
  const filename = new URL('./fixtures/pool-inc.mjs', import.meta.url);

  describe(`ThreadPool (${backend} backend)`, () => {
    it('runs tasks, queueRequest packets and a sentinel close on this backend', async () => {
      const calls = new SharedArrayBuffer(4);
      const pool = new ThreadPool({ filename, threads: 2, concurrency: 2, backend, workerData: calls });
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => pool.run(i)));
      assert.deepEqual(
        results,
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      for (let i = 0; i < 50; i++) assert.equal(pool.queueRequest(i), true);
      await pool.close(); // sentinels after the 50 requests: all of them ran
      assert.equal(Atomics.load(new Int32Array(calls), 0), 250);
      await assert.rejects(pool.run(1));
    });

    it('builds its ports on the backend it was given', async () => {
      const port = new CompletionPort({ backend });
      assert.equal(port.stats().backend, backend === 'auto' ? port.stats().backend : backend);
      port.close();
    });
  });
}
