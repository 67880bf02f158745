// The runtime smoke suite: the port and the pool through the package's public
// entry, as an app that installed it would use them. scripts/test-runtimes.sh
// runs it under Node, Bun and Deno (`deno run --allow-read`) in a scratch app
// that installed the packed tarball (so koffi, an optional peer, is absent).
//
//   node smoke.mjs | bun smoke.mjs | deno run --allow-read smoke.mjs
//
// Ends with the line "N passed, N failed"; exit code 0 only if none failed.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { CompletionPort, PoolClosedError, ThreadPool } from 'iocp-pool';

const runtime = globalThis.Deno
  ? `deno ${globalThis.Deno.version.deno}`
  : globalThis.Bun
    ? `bun ${globalThis.Bun.version}`
    : `node ${process.versions.node}`;
console.log(`iocp-pool smoke suite on ${runtime} (${process.platform}-${process.arch})`);

// Nothing here may hang a CI run: a stuck test fails the suite after 60 s.
const watchdog = setTimeout(() => {
  console.log('not ok: the suite did not finish within 60 s');
  process.exit(1);
}, 60_000);
watchdog.unref?.();

let passed = 0;
let failed = 0;
async function test(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok ${passed + failed} - ${name}`);
  } catch (error) {
    failed++;
    console.log(
      `not ok ${passed + failed} - ${name}\n  ${String(error?.stack ?? error)
        .split('\n')
        .join('\n  ')}`,
    );
  }
}

/** Handshake: polls cond() until it holds (never a sleep that hopes), or fails after ms. */
async function until(what, cond, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A Worker's first message or its exit, whichever comes first. */
function nextMessage(worker) {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with code ${code} before it answered`)));
  });
}

await test('port: post/get on one thread, getAsync timeout', async () => {
  const port = new CompletionPort({ concurrency: 1, capacity: 4 });
  assert.equal(port.post(7, 8, 9), true);
  assert.deepEqual(port.get(0), { bytesTransferred: 7, completionKey: 8, overlapped: 9 });
  assert.equal(port.get(0), null);
  assert.equal(await port.getAsync(5), null);
  for (let i = 0; i < 4; i++) assert.equal(port.post(i, i, i), true);
  assert.equal(port.post(4, 4, 4), false, 'post() returns false when the queue is full');
  assert.equal(port.close().length, 4, 'close() returns the packets still queued');
});

await test('port: packets cross to a worker and back, FIFO; close() wakes its blocked get()', async () => {
  const port = new CompletionPort({ concurrency: 2 });
  const replies = new CompletionPort();
  const worker = new Worker(new URL('./port-worker.mjs', import.meta.url), { workerData: { port: port.handle, replies: replies.handle } });
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  const closed = nextMessage(worker);
  for (let i = 1; i <= 200; i++) assert.equal(port.post(i, i, -i), true);
  for (let i = 1; i <= 200; i++) {
    const packet = await replies.getAsync(10_000);
    assert.deepEqual(packet, { bytesTransferred: i, completionKey: 2 * i, overlapped: -i }, `reply ${i} in order`);
  }
  // The worker is back in get() with nothing queued: close() must wake it with PortClosedError.
  await until('the worker waits on the port', () => port.stats().waiting === 1);
  assert.deepEqual(port.close(), []);
  assert.deepEqual(await closed, { closed: true, name: 'PortClosedError', code: 'ERROR_ABANDONED_WAIT_0' });
  assert.equal(await exited, 0);
  replies.close();
});

await test('pool: run() resolves with the handler result; queueRequest() reaches the handler; close() drains', async () => {
  const counter = new Int32Array(new SharedArrayBuffer(8));
  const pool = new ThreadPool({ filename: new URL('./handler.mjs', import.meta.url), threads: 2, concurrency: 2, workerData: { counter } });
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => pool.run({ n: i })));
  assert.deepEqual(
    results,
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
  for (let i = 1; i <= 100; i++) assert.equal(pool.queueRequest(i), true);
  // close(): one sentinel per thread after the queued requests, so every request runs first.
  await pool.close();
  assert.equal(Atomics.load(counter, 0), 5050, 'the handler saw every wParam once');
  assert.equal(Atomics.load(counter, 1), 100, 'and ran once per request');
  await assert.rejects(pool.run({ n: 1 }), PoolClosedError);
});

await test('pool: payloads larger than a slot round-trip; alloc() views cross by reference (where the runtime has the shared heap)', async () => {
  const counter = new Int32Array(new SharedArrayBuffer(8));
  const pool = new ThreadPool({ filename: new URL('./handler.mjs', import.meta.url), threads: 2, concurrency: 2, workerData: { counter } });
  const bytes = new Uint8Array(200_000).map((_, i) => (i * 7) & 255);
  const value = { bytes, text: 'é€'.repeat(30_000), list: Array.from({ length: 2000 }, (_, i) => ({ i, s: `#${i}` })), when: new Date(5) };
  assert.deepEqual(await pool.run({ echo: value }), value);
  assert.equal(await pool.run({ echo: 'x'.repeat(100_000) }), 'x'.repeat(100_000));
  let view;
  try {
    view = pool.alloc(4096);
  } catch (error) {
    // Deno: no synchronous BroadcastChannel read, so no shared heap (docs/runtimes.md); the error
    // says why, and what to do instead.
    assert.match(error.message, /alloc\(\) is not available in this runtime/);
    assert.match(error.message, /pass the bytes to run\(\) as an ordinary typed array/);
    assert.match(error.message, /transferList/);
  }
  if (view !== undefined) {
    view[0] = 41;
    const back = await pool.run({ poke: view });
    assert.equal(view[1], 42, 'the handler wrote into the same memory');
    assert.equal(back.byteOffset, view.byteOffset);
    pool.free(back);
    assert.throws(() => pool.free(view), TypeError);
  }
  await pool.close();
});

await test('pool: every progress value arrives before run() settles, and a result sent by message after them (20 rounds)', async () => {
  const pool = new ThreadPool({ filename: new URL('./handler.mjs', import.meta.url), threads: 1 });
  for (let round = 0; round < 20; round++) {
    const steps = [];
    assert.equal(await pool.run({ steps: 3 }, { onProgress: (i) => steps.push(i) }), 3);
    assert.equal(steps.join(' '), '1 2 3', `round ${round}`);
    // Larger than a slot: on Deno (no shared heap) it comes on the same channel as the progress did.
    assert.equal(await pool.run({ echo: 'y'.repeat(50_000) }), 'y'.repeat(50_000), `round ${round}`);
  }
  await pool.close();
});

clearTimeout(watchdog);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
