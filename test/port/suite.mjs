// The completion-port suite, written once and run against every backend:
// under vitest for the portable backend (port.test.ts) and under node:test
// for the native one (test/native/, on Windows or Wine). It uses only
// node:assert and the `{ describe, it }` it is given.
//
// Synchronisation is by handshake: the test waits until the port (stats) or
// a worker (control words in a SharedArrayBuffer) says the state it needs is
// reached — never by sleeping and hoping.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { BLOCK, BUSY, C_DONE, C_GOT, C_LOG, C_MAX, C_ORDER, C_RELEASE, HOLD, SLEEP } from './fixtures/control.mjs';

const AGENT = new URL('./fixtures/agent.mjs', import.meta.url);
/** The native port's word that says CloseHandle has run (src/native/native-port.ts). */
const N_HANDLE_CLOSED = 10;
const CONTROL_WORDS = 1024;

/**
 * @param {{ describe: Function, it: Function }} t
 * @param {{ backend: 'portable' | 'native', lib: any, libUrl: string, stressPackets?: number, raceRounds?: number }} config
 */
export function portSuite(t, config) {
  const { describe, it } = t;
  const { backend, lib, libUrl } = config;
  const { CompletionPort, PortClosedError } = lib;
  const STRESS = config.stressPackets ?? 1_000_000;
  const RACE_ROUNDS = config.raceRounds ?? 20;

  const open = [];
  const makePort = (options = {}) => {
    const port = new CompletionPort({ ...options, backend });
    open.push(port);
    return port;
  };

  /** Starts an agent worker; `done` resolves with its final message, `exit` with its exit code. */
  function spawn(port, role, data = {}) {
    const worker = new Worker(AGENT, { workerData: { role, handle: port.handle, libUrl, ...data } });
    // Captured now: Node sets worker.threadId to -1 once the worker has exited.
    const threadId = worker.threadId;
    let settle;
    const done = new Promise((resolve, reject) => {
      settle = { resolve, reject };
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const exit = new Promise((resolve) => worker.once('exit', resolve));
    exit.then((code) => settle.reject(new Error(`agent ${role} exited with ${code} before reporting`)));
    done.catch(() => {});
    return { worker, threadId, done, exit };
  }

  /** Polls until pred() is true: the handshake. Fails loudly instead of hanging. */
  async function until(pred, what, limitMs = 30_000) {
    const start = Date.now();
    while (!pred()) {
      if (Date.now() - start > limitMs) throw new Error(`handshake timed out: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  function newControl() {
    return new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  }

  function release(control, flag) {
    Atomics.store(control, C_RELEASE + flag, 1);
    Atomics.notify(control, C_RELEASE + flag);
  }

  async function closeAndJoin(port, agents) {
    port.close();
    await Promise.all(agents.map((a) => a.exit));
  }

  describe(`CompletionPort (${backend} backend)`, () => {
    it('hands out packets FIFO: 10,000 packets from one producer reach one consumer in order', async () => {
      const port = makePort({ concurrency: 1 });
      const control = newControl();
      const consumer = spawn(port, 'consumer', { control: control.buffer });
      const producer = spawn(port, 'producer', { from: 0, count: 10_000, index: 0 });
      await producer.done;
      await until(() => Atomics.load(control, C_DONE) === 10_000, 'consumer took 10,000 packets');
      port.close();
      const result = await consumer.done;
      assert.equal(result.count, 10_000);
      assert.equal(result.outOfOrder, 0, 'packets arrived out of order');
    });

    it('releases waiters LIFO: 4 workers that began waiting in a known order are served newest first', async () => {
      const port = makePort({ concurrency: 4 });
      const control = newControl();
      const agents = [];
      for (let i = 0; i < 4; i++) {
        agents.push(spawn(port, 'once', { control: control.buffer, index: i }));
        // Worker i begins waiting only after workers 0..i-1 are known to wait.
        await until(() => port.stats().waiting === i + 1, `worker ${i} waiting`);
      }
      for (let n = 1; n <= 4; n++) {
        assert.equal(port.post(0, n, 0), true);
        await until(() => Atomics.load(control, C_ORDER) === n, `packet ${n} taken`);
        assert.equal(port.stats().waiting, 4 - n);
      }
      const order = Array.from(control.subarray(C_LOG, C_LOG + 4));
      assert.deepEqual(order, [3, 2, 1, 0]);
      const packets = await Promise.all(agents.map((a) => a.done));
      // Worker 3 got the first packet, worker 0 the last.
      assert.deepEqual(
        packets.map((r) => r.packet.completionKey),
        [4, 3, 2, 1],
      );
      await Promise.all(agents.map((a) => a.exit));
    });

    it('keeps one LIFO order for sync waiters in workers and async waiters on the main thread', async () => {
      const port = makePort({ concurrency: 4 });
      const control = newControl();
      const first = spawn(port, 'once', { control: control.buffer, index: 0 });
      await until(() => port.stats().waiting === 1, 'worker 0 waiting');
      const mainWait = port.getAsync();
      await until(() => port.stats().waiting === 2, 'main thread waiting');
      const last = spawn(port, 'once', { control: control.buffer, index: 2 });
      await until(() => port.stats().waiting === 3, 'worker 2 waiting');

      port.post(0, 1, 0);
      await until(() => Atomics.load(control, C_ORDER) === 1, 'first packet taken');
      assert.equal(control[C_LOG], 2, 'the newest waiter (worker 2) goes first');
      port.post(0, 2, 0);
      const got = await mainWait;
      assert.equal(got.completionKey, 2, 'then the main thread');
      port.post(0, 3, 0);
      assert.equal((await first.done).packet.completionKey, 3, 'then the oldest');
      await Promise.all([first.exit, last.exit]);
    });

    it('holds the concurrency cap: with concurrency 1 and 3 busy threads, never more than one runs', async () => {
      const port = makePort({ concurrency: 1 });
      const control = newControl();
      const agents = [0, 1, 2].map((index) => spawn(port, 'handler', { control: control.buffer, index }));
      await until(() => port.stats().waiting === 3, '3 handlers waiting');
      const N = 60;
      for (let i = 0; i < N; i++) assert.equal(port.post(0, BUSY * 1000 + 2, 0), true);
      await until(() => Atomics.load(control, C_DONE) === N, `${N} busy packets handled`);
      assert.equal(Atomics.load(control, C_MAX), 1, 'more than one handler ran at once');
      await closeAndJoin(port, agents);
    });

    it('lets another thread run while one blocks, and releases no one while running is at the cap', async () => {
      const port = makePort({ concurrency: 1 });
      const control = newControl();
      const agents = [0, 1, 2].map((index) => spawn(port, 'handler', { control: control.buffer, index }));
      await until(() => port.stats().waiting === 3, '3 handlers waiting');

      // A takes a packet and blocks (flag 0): its slot is given back.
      port.post(0, BLOCK * 1000 + 0, 0);
      await until(() => control[C_GOT + 0] !== 0, 'A blocked');
      const a = control[C_GOT + 0];
      await until(() => port.stats().running === 0, 'A gave its slot back');

      // So B gets the next packet at once, while A is still blocked.
      port.post(0, HOLD * 1000 + 5, 0);
      await until(() => control[C_GOT + 5] !== 0, 'B took a packet while A blocked');
      assert.notEqual(control[C_GOT + 5], a);
      assert.equal(port.stats().running, 1);

      // A returns from blocking and counts as running again: 2 > cap 1.
      release(control, 0);
      await until(() => control[C_GOT + 1] !== 0, 'A back from blocking');
      assert.equal(port.stats().running, 2);

      // Over the cap, a post wakes no one even though a thread waits.
      port.post(0, HOLD * 1000 + 7, 0);
      let s = port.stats();
      assert.equal(s.queued, 1);
      assert.equal(s.waiting, 1);

      // B finishes: running drops to 1 = cap, still no release.
      release(control, 5);
      await until(() => port.stats().waiting === 2, 'B back waiting');
      s = port.stats();
      assert.equal(s.queued, 1, 'released a waiter while running was at the cap');
      assert.equal(s.running, 1);
      assert.equal(control[C_GOT + 7], 0);

      // A finishes: it gives its slot back and takes the packet itself, at once.
      release(control, 1);
      await until(() => control[C_GOT + 7] !== 0, 'the queued packet was taken');
      assert.equal(control[C_GOT + 7], a, 'the thread that came back to get took the queued packet');
      assert.equal(port.stats().queued, 0);
      release(control, 7);
      await closeAndJoin(port, agents);
    });

    it('gives the slot back during port.sleep(): a second thread takes the next packet meanwhile', async () => {
      const port = makePort({ concurrency: 1 });
      const control = newControl();
      const agents = [0, 1].map((index) => spawn(port, 'handler', { control: control.buffer, index }));
      await until(() => port.stats().waiting === 2, '2 handlers waiting');
      port.post(0, SLEEP * 1000 + 0, 0);
      await until(() => control[C_GOT + 0] !== 0, 'A took the sleep packet');
      // While A sleeps or holds, the next packet must go to B only if the slot is free;
      // A's sleep gives it back, so B takes it even though concurrency is 1.
      port.post(0, HOLD * 1000 + 3, 0);
      await until(() => control[C_GOT + 3] !== 0, 'B took a packet');
      assert.notEqual(control[C_GOT + 3], control[C_GOT + 0]);
      release(control, 0);
      release(control, 3);
      await until(() => Atomics.load(control, C_DONE) === 2, 'both handled');
      await closeAndJoin(port, agents);
    });

    it('counts the main thread as running between get() calls', () => {
      const port = makePort({ concurrency: 2 });
      port.post(1, 2, 3);
      port.post(4, 5, 6);
      assert.deepEqual(port.get(), { bytesTransferred: 1, completionKey: 2, overlapped: 3 });
      assert.equal(port.stats().running, 1);
      assert.deepEqual(port.get(), { bytesTransferred: 4, completionKey: 5, overlapped: 6 });
      assert.equal(port.stats().running, 1, 'the second get gave the first slot back');
      assert.equal(port.get(0), null);
      assert.equal(port.stats().running, 0);
      assert.equal(port.stats().threads, 1);
    });

    it('returns null from get(50) on an empty port after at least 50 ms (sync and async)', async () => {
      const port = makePort();
      let t0 = performance.now();
      assert.equal(port.get(50), null);
      assert.ok(performance.now() - t0 >= 49.9, `returned after ${performance.now() - t0} ms`);
      t0 = performance.now();
      assert.equal(await port.getAsync(50), null);
      assert.ok(performance.now() - t0 >= 49.9, `getAsync returned after ${performance.now() - t0} ms`);
      assert.equal(port.get(0), null);
      assert.deepEqual(port.getMany(4, 20), []);
      assert.equal(port.stats().waiting, 0, 'a timed-out waiter left the stack');
    });

    for (const spinCount of [0, undefined]) {
      it(`never loses a packet to a racing timeout (${spinCount === 0 ? 'no spin' : 'default spin'})`, async () => {
        const port = makePort({ concurrency: 2 });
        const control = newControl();
        const N = 4000;
        const seen = new SharedArrayBuffer(N);
        const timeouts = [0, 0.02, 0.05, 0.1, 0.2, 0.5, 1];
        const racers = [0, 1].map((index) => spawn(port, 'racer', { control: control.buffer, seen, timeouts, index, spinCount }));
        // Post in bursts with gaps around the racers' timeouts, so posts land
        // just before, at and just after the moment a wait times out.
        for (let key = 0; key < N; key++) {
          assert.equal(port.post(0, key, 0), true);
          if (key % 4 === 3) {
            const until_ = performance.now() + timeouts[(key >> 2) % timeouts.length];
            while (performance.now() < until_);
          }
        }
        await until(() => Atomics.load(control, C_DONE) === N, `racers took ${N} packets`, 60_000);
        port.close();
        const results = await Promise.all(racers.map((r) => r.done));
        const counts = new Uint8Array(seen);
        assert.equal(
          counts.findIndex((c) => c !== 1),
          -1,
          'some packet was lost or delivered twice',
        );
        assert.equal(results[0].count + results[1].count, N);
        assert.ok(results[0].nulls + results[1].nulls > 0, 'the race never produced a timeout');
      });
    }

    it('close() wakes sync waiters in workers and async waiters on the main thread with PortClosedError', async () => {
      const port = makePort({ concurrency: 1 });
      const control = newControl();
      // One handler holds the only running slot, so posted packets stay queued.
      const holder = spawn(port, 'handler', { control: control.buffer, index: 9 });
      await until(() => port.stats().waiting === 1, 'holder waiting');
      port.post(0, HOLD * 1000 + 0, 0);
      await until(() => control[C_GOT] !== 0, 'holder running');
      const waiters = [0, 1].map((index) => spawn(port, 'waitOnce', { index }));
      // Settled into values at once, so the rejection is never unhandled meanwhile.
      const asyncWaits = [port.getAsync(), port.getAsync(10_000)].map((p) =>
        p.then(
          (value) => ({ value }),
          (error) => ({ error }),
        ),
      );
      await until(() => port.stats().waiting === 4, '2 worker waiters and 2 async waiters');
      for (let i = 1; i <= 5; i++) port.post(i, 100 + i, i);
      assert.equal(port.stats().queued, 5);

      const left = port.close();
      assert.deepEqual(
        left.map((p) => p.completionKey),
        [101, 102, 103, 104, 105],
        'close() returns the undelivered packets, oldest first',
      );
      assert.deepEqual(left[0], { bytesTransferred: 1, completionKey: 101, overlapped: 1 });
      for (const w of waiters) assert.deepEqual(await w.done, { error: 'PortClosedError', closed: true });
      for (const p of asyncWaits) assert.ok((await p).error instanceof PortClosedError);
      assert.throws(() => port.post(0, 1, 0), PortClosedError);
      assert.throws(() => port.get(0), PortClosedError);
      assert.throws(() => port.getMany(2, 0), PortClosedError);
      await assert.rejects(port.getAsync(0), PortClosedError);
      assert.deepEqual(port.close(), [], 'a second close() is harmless');
      assert.equal(port.stats().closed, true);
      assert.equal(port.stats().waiting, 0);
      release(control, 0);
      assert.deepEqual(await holder.done, { closed: true }, 'the running thread sees the close on its next get');
    });

    it('getMany(max) returns between 1 and max packets, FIFO', async () => {
      const port = makePort({ concurrency: 1 });
      for (let i = 0; i < 10; i++) port.post(i, i, i);
      const a = port.getMany(4);
      assert.deepEqual(
        a.map((p) => p.completionKey),
        [0, 1, 2, 3],
      );
      assert.equal(port.stats().running, 1, 'a batch counts as one running thread');
      const b = port.getMany(100);
      assert.deepEqual(
        b.map((p) => p.completionKey),
        [4, 5, 6, 7, 8, 9],
      );
      // A getMany waiter is handed one packet and takes what queued meanwhile.
      const control = newControl();
      const consumer = spawn(port, 'consumer', { control: control.buffer, batch: 8 });
      await until(() => port.stats().waiting === 1, 'batch consumer waiting');
      port.getMany(1, 0); // gives the main thread's slot back
      for (let i = 0; i < 50; i++) port.post(i & 0xffff, i, 0);
      await until(() => Atomics.load(control, C_DONE) === 50, 'batch consumer took 50');
      port.close();
      const result = await consumer.done;
      assert.equal(result.count, 50);
      assert.equal(result.outOfOrder, 0);
    });

    it('getAsync leaves the event loop running while it waits', async () => {
      const port = makePort();
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      try {
        const pending = port.getAsync();
        await until(() => ticks >= 5, 'the timer fired 5 times during the wait');
        assert.equal(port.stats().waiting, 1);
        port.post(7, 8, 9);
        assert.deepEqual(await pending, { bytesTransferred: 7, completionKey: 8, overlapped: 9 });
      } finally {
        clearInterval(timer);
      }
    });

    it('getAsync({ behind }) checks the option and waits for a packet like any wait (the order behind others: portable only, behind.test.ts)', async () => {
      const port = makePort({ concurrency: 2 });
      await assert.rejects(port.getAsync(0, { behind: -1 }), RangeError);
      await assert.rejects(port.getAsync(0, { behind: 'x' }), TypeError);
      const ranked = port.getAsync(undefined, { behind: 3 });
      const flagged = port.getAsync(undefined, { behind: true });
      await until(() => port.stats().waiting === 2, 'both waits are in the port');
      port.post(1, 1, 0);
      port.post(1, 2, 0);
      const keys = (await Promise.all([ranked, flagged])).map((p) => p.completionKey).sort();
      assert.deepEqual(keys, [1, 2]);
      assert.equal(await port.getAsync(0, { behind: 1 }), null);
    });

    it('keeps a thread alive while its only pending work is a getAsync', async () => {
      const port = makePort();
      const agent = spawn(port, 'asyncOnce');
      await until(() => port.stats().waiting === 1, 'async waiter in the worker');
      // Let the worker's event loop run empty: without a ref'd handle it would exit (code 13).
      await new Promise((resolve) => setTimeout(resolve, 50));
      port.post(1, 2, 3);
      assert.deepEqual((await agent.done).packet, { bytesTransferred: 1, completionKey: 2, overlapped: 3 });
      assert.equal(await agent.exit, 0);
    });

    it('returns false from post() when the queue is full, and drops nothing', () => {
      const port = makePort({ capacity: 8 });
      for (let i = 0; i < 8; i++) assert.equal(port.post(0, i, 0), true);
      assert.equal(port.post(0, 8, 0), false);
      assert.equal(port.post(0, 9, 0), false);
      assert.equal(port.stats().queued, 8);
      assert.equal(port.get().completionKey, 0);
      assert.equal(port.post(0, 10, 0), true);
      assert.deepEqual(
        port.close().map((p) => p.completionKey),
        [1, 2, 3, 4, 5, 6, 7, 10],
      );
    });

    for (const capacity of [1, 2, 3]) {
      it(`capacity ${capacity}: post() returns false when full and overwrites nothing; get(0) and close() return every packet`, () => {
        const port = makePort({ capacity, concurrency: 1 });
        let next = 0;
        let expected = 0;
        for (let round = 0; round < 4; round++) {
          for (let i = 0; i < capacity; i++) assert.equal(port.post(next & 0xffff, next++, 0), true, `round ${round}: post ${i}`);
          assert.equal(port.post(1, -1, 0), false, `round ${round}: the port is full at ${capacity}`);
          assert.equal(port.stats().queued, capacity);
          for (let i = 0; i < capacity; i++) {
            const p = port.get(0);
            assert.deepEqual(p, { bytesTransferred: expected & 0xffff, completionKey: expected, overlapped: 0 }, `round ${round}: get ${i}`);
            expected++;
          }
          assert.equal(port.get(0), null, `round ${round}: empty again`);
        }
        // Half full at close: close() returns what is queued, in order.
        const left = Math.ceil(capacity / 2);
        for (let i = 0; i < left; i++) assert.equal(port.post(0, next++, 0), true);
        assert.deepEqual(
          port.close().map((p) => p.completionKey),
          Array.from({ length: left }, (_, i) => expected + i),
        );
      });
    }

    it('capacities 1, 2 and 3 deliver exactly once with 2 producers and 2 consumers racing', async () => {
      const total = Math.max(2000, Math.floor(STRESS / 500));
      for (const capacity of [1, 2, 3]) {
        const port = makePort({ capacity, concurrency: 2 });
        const control = newControl();
        const seen = new SharedArrayBuffer(total);
        const consumers = [0, 1].map((index) => spawn(port, 'consumer', { control: control.buffer, seen, index, batch: index === 0 ? 0 : 4 }));
        const share = total / 2;
        const producers = [0, 1].map((index) => spawn(port, 'producer', { from: index * share, count: share, index }));
        await Promise.all(producers.map((p) => p.done));
        await until(() => Atomics.load(control, C_DONE) === total, `capacity ${capacity}: all ${total} packets consumed`);
        assert.deepEqual(port.close(), []);
        const results = await Promise.all(consumers.map((c) => c.done));
        for (const r of results) assert.equal(r.outOfOrder, 0, `capacity ${capacity}: a consumer saw one producer out of order`);
        const counts = new Uint8Array(seen);
        const wrong = counts.findIndex((c) => c !== 1);
        assert.equal(wrong, -1, `capacity ${capacity}: key ${wrong} delivered ${counts[wrong]} times`);
      }
    });

    it('stores bytesTransferred as an unsigned 32-bit integer: post(-0) hands out +0', () => {
      const port = makePort({ concurrency: 1 });
      port.post(-0, 1, 2);
      const p = port.get(0);
      assert.ok(Object.is(p.bytesTransferred, 0), `bytesTransferred is ${Object.is(p.bytesTransferred, -0) ? '-0' : p.bytesTransferred}`);
      port.post(-0, 3, 4);
      assert.ok(Object.is(port.close()[0].bytesTransferred, 0), 'close() returns +0 too');
    });

    it(`loses and duplicates nothing when close() races posts and gets (${RACE_ROUNDS} rounds)`, async () => {
      // Every key ends in exactly one place: delivered to a consumer, returned
      // by close(), or never posted (its post threw PortClosedError).
      const share = Math.max(2000, Math.floor(STRESS / 20));
      for (let round = 0; round < RACE_ROUNDS; round++) {
        const port = makePort({ concurrency: 2, capacity: 100 });
        const control = newControl();
        const seen = new SharedArrayBuffer(2 * share);
        const posted = new SharedArrayBuffer(2 * share);
        const consumers = [0, 1].map((index) => spawn(port, 'consumer', { control: control.buffer, seen, index, batch: index === 0 ? 0 : 8 }));
        const producers = [0, 1].map((index) => spawn(port, 'postUntilClosed', { posted, from: index * share, count: share, index }));
        // Close at a different point of the stream each round, while both sides run.
        const at = 1 + ((round * 7919) % Math.floor(share / 2));
        await until(() => Atomics.load(control, C_DONE) >= at, `${at} packets consumed`);
        const returned = port.close();
        await Promise.all(producers.map((p) => p.done));
        const results = await Promise.all(consumers.map((c) => c.done));
        for (const r of results) assert.equal(r.outOfOrder, 0, 'a consumer saw one producer out of order');
        const where = new Uint8Array(seen);
        for (const p of returned) where[p.completionKey] += 1;
        const wasPosted = new Uint8Array(posted);
        for (let key = 0; key < 2 * share; key++) {
          if (where[key] !== wasPosted[key]) {
            assert.fail(`round ${round}: key ${key} posted ${wasPosted[key]} time(s), delivered or returned ${where[key]} time(s)`);
          }
        }
        // Returned packets are what was still queued, oldest first: per producer in order.
        const last = [-1, -1];
        for (const p of returned) {
          assert.ok(p.completionKey > last[p.overlapped], 'close() returned one producer out of order');
          last[p.overlapped] = p.completionKey;
        }
      }
    });

    it('never queues more than capacity, with posters racing to fill it', async () => {
      // A power of two (the ring's own cells bound it) and not (the packet capacity back bounds it), 3 rounds each.
      for (const capacity of [4096, 4096, 4096, 5000, 5000, 5000]) {
        const port = makePort({ concurrency: 1, capacity });
        const control = newControl();
        const fillers = [0, 1, 2, 3].map((index) => spawn(port, 'fillUntilFull', { control: control.buffer, from: index * 10_000, index }));
        await until(() => Atomics.load(control, C_ORDER) === 4, 'every filler at the start line');
        Atomics.store(control, C_RELEASE, 1);
        const counts = (await Promise.all(fillers.map((f) => f.done))).map((r) => r.count);
        assert.equal(
          counts.reduce((a, b) => a + b, 0),
          capacity,
          `capacity ${capacity}: posts accepted by 4 racing posters (${counts.join(' + ')})`,
        );
        assert.equal(port.stats().queued, capacity);
        assert.equal(port.post(0, 0, 0), false);
        assert.equal(port.close().length, capacity);
      }
    });

    it(`delivers every packet exactly once: 4 producers, 4 consumers, ${STRESS.toLocaleString('en')} packets`, async () => {
      const port = makePort({ concurrency: 4, capacity: 4096 });
      const control = newControl();
      const seen = new SharedArrayBuffer(STRESS);
      const consumers = [0, 1, 2, 3].map((index) =>
        spawn(port, 'consumer', { control: control.buffer, seen, index, batch: index % 2 === 0 ? 0 : 16 }),
      );
      const share = STRESS / 4;
      const producers = [0, 1, 2, 3].map((index) => spawn(port, 'producer', { from: index * share, count: share, index }));
      await Promise.all(producers.map((p) => p.done));
      await until(() => Atomics.load(control, C_DONE) === STRESS, 'all packets consumed', 120_000);
      assert.deepEqual(port.close(), []);
      const results = await Promise.all(consumers.map((c) => c.done));
      assert.equal(
        results.reduce((n, r) => n + r.count, 0),
        STRESS,
      );
      for (const r of results) assert.equal(r.outOfOrder, 0, 'a consumer saw one producer out of order');
      const counts = new Uint8Array(seen);
      assert.equal(
        counts.findIndex((c) => c !== 1),
        -1,
        'the delivered multiset differs from the posted one',
      );
    });

    for (const seed of [1, 2, 3]) {
      it(`survives a random mix of every call from 4 threads, exactly once, counters back to zero (seed ${seed})`, async () => {
        const port = makePort({ concurrency: 2, capacity: 64 });
        const control = newControl();
        const share = 5000;
        const total = 4 * share;
        const seen = new SharedArrayBuffer(total);
        const agents = [0, 1, 2, 3].map((index) =>
          spawn(port, 'chaos', {
            control: control.buffer,
            seen,
            index,
            from: index * share,
            count: share,
            total,
            seed: seed * 100 + index,
          }),
        );
        const results = await Promise.all(agents.map((a) => a.done));
        await Promise.all(agents.map((a) => a.exit));
        const counts = new Uint8Array(seen);
        assert.equal(
          counts.findIndex((c) => c !== 1),
          -1,
          'some packet was lost or delivered twice',
        );
        for (const r of results) for (const [op, n] of Object.entries(r.ops)) assert.ok(n > 0, `no ${op} was exercised`);
        const s = port.stats();
        assert.deepEqual(
          { queued: s.queued, running: s.running, waiting: s.waiting, threads: s.threads },
          { queued: 0, running: 0, waiting: 0, threads: 0 },
        );
      });
    }

    it('rejects bad arguments with TypeError/RangeError naming the argument', async () => {
      const port = makePort();
      const throwsNamed = (fn, type, name) => assert.throws(fn, (e) => e instanceof type && e.message.includes(name), `${type.name} naming ${name}`);
      throwsNamed(() => port.post('1', 0, 0), TypeError, 'bytesTransferred');
      throwsNamed(() => port.post(-1, 0, 0), RangeError, 'bytesTransferred');
      throwsNamed(() => port.post(2 ** 32, 0, 0), RangeError, 'bytesTransferred');
      throwsNamed(() => port.post(1.5, 0, 0), RangeError, 'bytesTransferred');
      throwsNamed(() => port.post(0, {}, 0), TypeError, 'completionKey');
      throwsNamed(() => port.post(0, Number.NaN, 0), RangeError, 'completionKey');
      throwsNamed(() => port.post(0, 0, Infinity), RangeError, 'overlapped');
      throwsNamed(() => port.post(0, 0, 10n), TypeError, 'overlapped');
      throwsNamed(() => port.get('5'), TypeError, 'timeoutMs');
      throwsNamed(() => port.get(-1), RangeError, 'timeoutMs');
      throwsNamed(() => port.getMany(0), RangeError, 'max');
      throwsNamed(() => port.getMany('2'), TypeError, 'max');
      throwsNamed(() => port.getMany(2, -5), RangeError, 'timeoutMs');
      await assert.rejects(port.getAsync(-1), (e) => e instanceof RangeError && e.message.includes('timeoutMs'));
      await assert.rejects(port.getAsync('x'), (e) => e instanceof TypeError && e.message.includes('timeoutMs'));
      throwsNamed(() => port.blocking(42), TypeError, 'fn');
      throwsNamed(() => port.sleep(-2), RangeError, 'ms');
      throwsNamed(() => port.releaseThread(-1), RangeError, 'threadId');
      throwsNamed(() => new CompletionPort({ concurrency: -1, backend }), RangeError, 'concurrency');
      throwsNamed(() => new CompletionPort({ concurrency: 1.5, backend }), RangeError, 'concurrency');
      throwsNamed(() => new CompletionPort({ capacity: 0, backend }), RangeError, 'capacity');
      throwsNamed(() => new CompletionPort({ capacity: 'big', backend }), TypeError, 'capacity');
      throwsNamed(() => new CompletionPort(5), TypeError, 'options');
      throwsNamed(() => new CompletionPort({ backend: 'quantum' }), RangeError, 'backend');
      throwsNamed(() => CompletionPort.from({}), TypeError, 'handle');
      throwsNamed(() => CompletionPort.from(null), TypeError, 'handle');
      throwsNamed(() => CompletionPort.from(42), TypeError, 'handle');
      throwsNamed(() => CompletionPort.from({ backend: 'portable', buffer: new SharedArrayBuffer(4096) }), TypeError, 'handle');
      throwsNamed(() => CompletionPort.from({ backend: 'portable', buffer: new ArrayBuffer(4096) }), TypeError, 'handle');
      // A real header on a buffer of the wrong size is refused too.
      const fake = new SharedArrayBuffer(port.handle.buffer ? port.handle.buffer.byteLength + 64 : 8192);
      if (port.handle.buffer) new Uint8Array(fake).set(new Uint8Array(port.handle.buffer, 0, 64));
      throwsNamed(() => CompletionPort.from({ backend: 'portable', buffer: fake }), TypeError, 'handle');
    });

    if (backend === 'portable') {
      // The portable backend's stand-ins for what the Windows kernel does by
      // itself when a thread exits: it cannot see a thread die, so the owner
      // gives back what the dead thread held.
      it('releaseThread() gives back the running slot of a worker that died holding it', async () => {
        const port = makePort({ concurrency: 1 });
        const victim = spawn(port, 'dieRunning');
        await until(() => port.stats().waiting === 1, 'victim waiting');
        port.post(0, 1, 0);
        assert.equal(await victim.exit, 7);
        assert.equal(port.stats().running, 1, 'the dead thread still holds its slot');
        const control = newControl();
        const next = spawn(port, 'consumer', { control: control.buffer });
        await until(() => port.stats().waiting === 1, 'replacement waiting');
        port.post(0, 2, 0);
        assert.equal(port.stats().queued, 1, 'at the cap: the packet waits');
        const released = port.releaseThread(victim.threadId);
        assert.equal(released.running, 1);
        // It read its packet from its mailbox and died with it: named, not put back.
        assert.deepEqual(released.lastTaken, [{ bytesTransferred: 0, completionKey: 1, overlapped: 0 }]);
        assert.equal(released.requeued, 0);
        await until(() => Atomics.load(control, C_DONE) === 1, 'the queued packet reached the replacement');
        assert.equal(port.stats().threads, 1);
        await closeAndJoin(port, [next]);
      });

      it('releaseThread() requeues a packet handed to a thread that died before reading it', async () => {
        const port = makePort({ concurrency: 2 });
        const control = newControl();
        const stuck = spawn(port, 'stuckAsync', { control: control.buffer });
        await until(() => port.stats().waiting === 1 && control[C_GOT] === 1, 'stuck async waiter');
        port.post(3, 33, 333);
        assert.equal(port.stats().waiting, 0, 'the packet was handed to the stuck waiter');
        assert.equal(port.stats().running, 1);
        await stuck.worker.terminate();
        const released = port.releaseThread(stuck.threadId);
        // Handed, never read: put back, so not named as taken (never both).
        assert.deepEqual(released, { running: 1, waiters: 0, requeued: 1, abandoned: [], lastTaken: [], deferred: false });
        assert.deepEqual(port.stats().running, 0);
        assert.deepEqual(port.get(0), { bytesTransferred: 3, completionKey: 33, overlapped: 333 });
      });

      it('releaseThread() names the packet a thread took for good and died with (lastTaken): from the ring with and without the lock, from FRONT', async () => {
        // Lock path (the first get() of a thread takes under the lock), then the lock-free
        // path (a thread that holds a running slot), each as the last take before the death.
        for (const takes of [1, 2, 3]) {
          const port = makePort({ concurrency: 2, capacity: 8 });
          for (let k = 1; k <= 4; k++) port.post(k, 10 * k, 100 * k);
          const control = newControl();
          const victim = spawn(port, 'takeThenDie', { control: control.buffer, takes });
          assert.equal(await victim.exit, 7);
          const released = port.releaseThread(victim.threadId);
          assert.deepEqual(released.lastTaken, [{ bytesTransferred: takes, completionKey: 10 * takes, overlapped: 100 * takes }], `${takes} take(s)`);
          assert.equal(released.requeued, 0, 'nothing it took goes back');
          const rest = [];
          for (let p = port.get(0); p !== null; p = port.get(0)) rest.push(p.completionKey);
          assert.deepEqual(rest, [10, 20, 30, 40].slice(takes), 'the others stay queued, once each');
        }
        // FRONT: a packet put back from a dead thread's mailbox, then taken under the lock by a thread that dies with it.
        const port = makePort({ concurrency: 2 });
        const control = newControl();
        const stuck = spawn(port, 'stuckAsync', { control: control.buffer });
        await until(() => port.stats().waiting === 1 && control[C_GOT] === 1, 'stuck async waiter');
        port.post(5, 55, 555);
        await stuck.worker.terminate();
        assert.equal(port.releaseThread(stuck.threadId).requeued, 1);
        const taker = spawn(port, 'takeThenDie', { control: newControl().buffer, takes: 1 });
        assert.equal(await taker.exit, 7);
        const released = port.releaseThread(taker.threadId);
        assert.deepEqual(released.lastTaken, [{ bytesTransferred: 5, completionKey: 55, overlapped: 555 }]);
        assert.equal(released.requeued, 0);
        assert.equal(port.get(0), null, 'taken once, named once: not queued again');
      });

      it('releaseThread() removes the waiter of a terminated worker, so no packet goes to the dead', async () => {
        const port = makePort({ concurrency: 2 });
        const a = spawn(port, 'waitOnce', { index: 0 });
        await until(() => port.stats().waiting === 1, 'a waiting');
        await a.worker.terminate();
        assert.deepEqual(port.releaseThread(a.threadId), { running: 0, waiters: 1, requeued: 0, abandoned: [], lastTaken: [], deferred: false });
        assert.equal(port.stats().waiting, 0);
        assert.equal(port.stats().threads, 0);
        port.post(0, 5, 0);
        assert.equal(port.get(0).completionKey, 5);
      });

      it("detach() settles this thread's pending getAsync first: a worker that reuses the slot gets its own packet", async () => {
        const port = makePort({ concurrency: 2, maxThreads: 4 });
        let settled = null;
        port.getAsync().then(
          (packet) => (settled = { packet }),
          (error) => (settled = { error }),
        );
        await until(() => port.stats().waiting === 1, 'main thread waiting');
        port.detach();
        assert.deepEqual([port.stats().waiting, port.stats().threads], [0, 0], 'detach took the waiter off and freed the slot');
        await until(() => settled !== null, 'the pending getAsync settled after detach()', 5000);
        assert.ok(
          settled.error instanceof Error && /detach/.test(settled.error.message),
          `the pending getAsync was settled: ${JSON.stringify(settled)}`,
        );
        // A worker attaches, takes the freed slot, and waits in it.
        const worker = spawn(port, 'waitOnce', { index: 0 });
        await until(() => port.stats().waiting === 1, 'worker waiting in the reused slot');
        assert.equal(port.post(1, 2, 3), true);
        assert.deepEqual(await worker.done, { packet: { bytesTransferred: 1, completionKey: 2, overlapped: 3 } }, 'the worker got its packet');
        await worker.exit;
        port.releaseThread(worker.threadId);
        assert.deepEqual([port.stats().running, port.stats().waiting, port.stats().threads], [0, 0, 0], 'nothing drifted');
        // A packet already handed to the pending wait when detach() comes is not lost: the wait resolves with it.
        const handed = port.getAsync();
        await until(() => port.stats().waiting === 1, 'main thread waiting again');
        port.post(4, 5, 6); // hands it over at once (this thread is the waiter), before the promise can run
        port.detach();
        assert.deepEqual(await handed, { bytesTransferred: 4, completionKey: 5, overlapped: 6 });
        assert.deepEqual([port.stats().running, port.stats().threads, port.stats().queued], [0, 0, 0]);
      });

      it(`terminating threads in the middle of post() and get() never blocks the ring or the lock (${RACE_ROUNDS} rounds)`, async () => {
        // layout.ts I8: between claiming a ring position and publishing or
        // freeing its cell there is no point where V8 can stop a thread. If
        // there were, a terminated thread would leave a cell claimed forever
        // and every later packet stuck behind it.
        for (let round = 0; round < RACE_ROUNDS; round++) {
          const port = makePort({ concurrency: 2, capacity: 64, maxThreads: 8 });
          // Every 5th round the port's claim records are all taken first (8 +
          // 64 instances on this thread hold one each), so the churning threads
          // claim unrecorded and a dead one's claims are found by a ring scan.
          if (round % 5 === 4) for (let i = 0; i < 8 + 64; i++) CompletionPort.from(port.handle).stats();
          const control = newControl();
          const agents = [0, 1, 2].map((index) => spawn(port, 'churn', { control: control.buffer, index }));
          const at = 2048 * (1 + (round % 5));
          await until(() => Atomics.load(control, C_DONE) >= at, `${at} operations`);
          // Mostly one at a time, as a pool does when a worker exits (the
          // others keep running meanwhile); every 4th round all at once, so the
          // lock may be held by a dead thread other than the one released first.
          // A thread may die inside the port's lock or holding a running slot,
          // and releaseThread gives it all back.
          if (round % 4 === 3) await Promise.all(agents.map((a) => a.worker.terminate()));
          for (const a of agents) {
            await a.worker.terminate();
            port.releaseThread(a.threadId);
          }
          const stats = port.stats();
          assert.deepEqual([stats.running, stats.waiting, stats.threads], [0, 0, 0], `round ${round}: released`);
          let left = 0;
          while (port.get(0) !== null) left++;
          assert.equal(left, stats.queued, `round ${round}: every queued packet can be taken`);
          for (let i = 0; i < 200; i++) {
            assert.equal(port.post(0, i, 0), true, `round ${round}: post ${i} after the terminations`);
            assert.equal(port.get(0)?.completionKey, i, `round ${round}: get ${i} after the terminations`);
          }
          port.detach();
        }
      });
    } else {
      // The native backend: the kernel stops counting a thread that exits, and
      // a packet it dequeued (or a wait it is blocked in) is that thread's.
      // releaseThread()/detach() only give back the library's own accounting:
      // the running count and the thread-table entry (stats().running, .threads).
      it('releaseThread() (native) gives back the count of a worker that died running; the kernel never held the next packet for it', async () => {
        const port = makePort({ concurrency: 1 });
        const victim = spawn(port, 'dieRunning');
        await until(() => port.stats().waiting === 1, 'victim waiting');
        port.post(0, 1, 0);
        assert.equal(await victim.exit, 7);
        assert.equal(port.stats().running, 1, "the library's count still holds the dead thread");
        assert.equal(port.stats().threads, 1);
        const control = newControl();
        const next = spawn(port, 'consumer', { control: control.buffer });
        await until(() => port.stats().waiting === 1, 'replacement waiting');
        // Concurrency 1 and the count says 1 runs, yet the kernel hands the
        // packet over at once: it does not count a thread that has exited.
        port.post(0, 2, 0);
        await until(() => Atomics.load(control, C_DONE) === 1, 'the packet reached the replacement without releaseThread()');
        await until(() => port.stats().waiting === 1, 'the replacement is back in get() (its own slot given back)');
        assert.equal(port.stats().running, 1, 'only the dead thread is still counted');
        assert.deepEqual(port.releaseThread(victim.threadId), { running: 1, waiters: 0, requeued: 0, abandoned: [], lastTaken: [], deferred: false });
        assert.deepEqual(
          { running: port.stats().running, threads: port.stats().threads },
          { running: 0, threads: 1 },
          "the dead thread's count and table entry are gone; the replacement's entry stays",
        );
        assert.deepEqual(
          port.releaseThread(victim.threadId),
          { running: 0, waiters: 0, requeued: 0, abandoned: [], lastTaken: [], deferred: false },
          'a second call finds nothing',
        );
        await closeAndJoin(port, [next]);
      });

      it("releaseThread() (native) frees the entry of a thread whose getAsync the kernel already served; the packet was that thread's", async () => {
        const port = makePort({ concurrency: 2 });
        const control = newControl();
        const stuck = spawn(port, 'stuckAsync', { control: control.buffer });
        await until(() => port.stats().waiting === 1 && control[C_GOT] === 1, 'stuck async waiter');
        port.post(3, 33, 333);
        // The worker's getAsync is a GQCS on a libuv pool thread: the kernel
        // dequeues the packet to it although the worker's event loop, blocked,
        // will never run the callback. (queued is the kernel's depth.)
        await until(() => port.stats().queued === 0, 'the kernel handed the packet to the stuck wait');
        await stuck.worker.terminate();
        // The callback never ran, so the library never counted the thread as running.
        assert.deepEqual(port.releaseThread(stuck.threadId), { running: 0, waiters: 0, requeued: 0, abandoned: [], lastTaken: [], deferred: false });
        assert.equal(port.stats().threads, 0, "the dead thread's table entry is free");
        assert.equal(port.stats().running, 0);
        assert.equal(port.get(0), null, 'the kernel cannot put a dequeued packet back: it went with the thread');
        // Its wait never left the port (its callback never ran on the dead thread); the release took it out, so the close can finish.
        port.close();
        assert.equal(new Int32Array(port.handle.buffer)[N_HANDLE_CLOSED], 1, 'the deferred CloseHandle ran');
      });

      it('a worker blocked in get() (native) ends only once its GQCS returns; releaseThread() then frees its entry', async () => {
        const port = makePort({ concurrency: 2 });
        const a = spawn(port, 'waitOnce', { index: 0 });
        await until(() => port.stats().waiting === 1, 'a waiting');
        let ended = false;
        const terminated = a.worker.terminate().then((code) => {
          ended = true;
          return code;
        });
        // V8 cannot interrupt a native call. Not a handshake: a bounded look
        // for a worker that ended while its thread was still in the kernel.
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(ended, false, 'terminate() finished while the worker was blocked in GetQueuedCompletionStatus');
        // close() wakes it with a sentinel packet; then the termination completes.
        port.close();
        assert.equal(await terminated, 1);
        assert.deepEqual(port.releaseThread(a.threadId), { running: 0, waiters: 0, requeued: 0, abandoned: [], lastTaken: [], deferred: false });
        assert.equal(port.stats().threads, 0, "the dead thread's table entry is free");
        // It died in the wait without leaving it; the release took its wait out, and the deferred CloseHandle ran.
        assert.equal(port.stats().waiting, 0);
        assert.equal(new Int32Array(port.handle.buffer)[N_HANDLE_CLOSED], 1, 'the deferred CloseHandle ran');
      });

      it('detach() (native) with a getAsync still in the kernel: the wait delivers its packet uncounted, and the entry is freed once it has', async () => {
        const port = makePort({ concurrency: 2 });
        const pending = port.getAsync();
        await until(() => port.stats().waiting === 1, 'async wait in the kernel');
        port.detach();
        assert.equal(port.stats().threads, 0, 'detached');
        assert.equal(port.post(1, 2, 3), true);
        assert.deepEqual(await pending, { bytesTransferred: 1, completionKey: 2, overlapped: 3 });
        assert.deepEqual(
          [port.stats().running, port.stats().waiting, port.stats().threads],
          [0, 0, 0],
          'a detached thread is not counted as running',
        );
        // Attached again by its next call, normally.
        port.post(4, 5, 6);
        assert.deepEqual(await port.getAsync(), { bytesTransferred: 4, completionKey: 5, overlapped: 6 });
        assert.deepEqual([port.stats().running, port.stats().threads], [1, 1]);
      });
    }

    it("detach() gives back the calling thread's running slot and thread entry; its next call attaches again", () => {
      const port = makePort({ concurrency: 2 });
      port.post(1, 2, 3);
      assert.deepEqual(port.get(), { bytesTransferred: 1, completionKey: 2, overlapped: 3 });
      assert.deepEqual([port.stats().running, port.stats().threads], [1, 1]);
      port.detach();
      assert.deepEqual([port.stats().running, port.stats().threads], [0, 0], 'detach gave back the slot and the entry');
      port.detach();
      assert.deepEqual([port.stats().running, port.stats().threads], [0, 0], 'a second detach() is harmless');
      port.post(4, 5, 6);
      assert.deepEqual(port.get(), { bytesTransferred: 4, completionKey: 5, overlapped: 6 });
      assert.deepEqual([port.stats().running, port.stats().threads], [1, 1], 'the next get() attached again');
    });

    it('blocking(fn) gives the slot back for a sync or async fn and takes it back after', async () => {
      const port = makePort({ concurrency: 1 });
      port.post(0, 1, 0);
      port.get();
      assert.equal(port.stats().running, 1);
      assert.equal(
        port.blocking(() => port.stats().running),
        0,
      );
      assert.equal(port.stats().running, 1);
      const during = await port.blocking(async () => {
        await new Promise((resolve) => setImmediate(resolve));
        return port.stats().running;
      });
      assert.equal(during, 0);
      assert.equal(port.stats().running, 1);
      assert.throws(() =>
        port.blocking(() => {
          throw new Error('boom');
        }),
      );
      assert.equal(port.stats().running, 1, 'a throwing fn still takes the slot back');
    });

    if (backend === 'portable') {
      it('refuses a wait when the thread table is full, and keeps working (no lock left held)', async () => {
        const port = makePort({ maxThreads: 2 });
        const a = port.getAsync();
        const b = port.getAsync();
        await until(() => port.stats().waiting === 2, 'two async waiters');
        await assert.rejects(port.getAsync(), (e) => e instanceof RangeError && e.message.includes('maxThreads'));
        assert.equal(port.post(0, 1, 0), true);
        assert.equal(port.post(0, 2, 0), true);
        assert.deepEqual([(await b).completionKey, (await a).completionKey], [1, 2], 'newest waiter first');
        assert.deepEqual(port.close(), []);
      });
    }

    it('attaches from a handle that went through structured clone, and reports stats', async () => {
      const port = makePort({ concurrency: 3, capacity: 100 });
      const clone = structuredClone(port.handle);
      const other = CompletionPort.from(clone);
      other.post(1, 2, 3);
      assert.deepEqual(port.stats(), {
        queued: 1,
        running: 0,
        waiting: 0,
        threads: 0,
        concurrency: 3,
        capacity: 100,
        closed: false,
        backend,
      });
      assert.deepEqual(port.get(), { bytesTransferred: 1, completionKey: 2, overlapped: 3 });
      const whole = makePort({ concurrency: 0 });
      assert.ok(whole.stats().concurrency >= 1, 'concurrency 0 means the number of processors');
    });
  });
}
