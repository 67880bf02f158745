// Measures the kernel's own rules on this machine (Windows or Wine), so every
// known difference the runner reports carries evidence, not belief:
//   releaseOrder  which of 3 waiters (started 0, 1, 2) got packets 1, 2, 3 — LIFO is "2,1,0"
//   capRunning    with concurrency 1 and 3 threads that spin without any kernel wait, how many ran at once — the cap says 1
//   closeWakes    whether CloseHandle on the port wakes a thread blocked in GQCS, and with which error (735 = ERROR_ABANDONED_WAIT_0)
import { Worker } from 'node:worker_threads';

const WORKER = new URL('./fixtures/probe-worker.mjs', import.meta.url);

function spawn(data) {
  const worker = new Worker(WORKER, { workerData: data });
  const done = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { worker, done };
}

async function until(pred, limitMs = 10_000) {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > limitMs) throw new Error('probe handshake timed out');
    await new Promise((r) => setTimeout(r, 1));
  }
}

const settle = (ms) => new Promise((r) => setTimeout(r, ms));

export async function probe(lib, libUrl) {
  const out = {};
  try {
    // Release order.
    {
      const port = new lib.CompletionPort({ backend: 'native', concurrency: 4 });
      const log = new Int32Array(new SharedArrayBuffer(64));
      const ws = [];
      for (let i = 0; i < 3; i++) {
        ws.push(spawn({ mode: 'once', handle: port.handle, libUrl, index: i, log: log.buffer }));
        await until(() => port.stats().waiting === i + 1);
        await settle(100); // stats().waiting counts a thread just before it enters GQCS: let it get there
      }
      for (let n = 1; n <= 3; n++) {
        port.post(0, n, 0);
        await until(() => Atomics.load(log, 0) === n);
      }
      out.releaseOrder = Array.from(log.subarray(1, 4)).join(',');
      await Promise.all(ws.map((w) => w.done));
      port.close();
    }
    // Concurrency cap.
    {
      const port = new lib.CompletionPort({ backend: 'native', concurrency: 1 });
      const log = new Int32Array(new SharedArrayBuffer(64));
      const ws = [0, 1, 2].map((index) => spawn({ mode: 'spin', handle: port.handle, libUrl, index, log: log.buffer }));
      await until(() => port.stats().waiting === 3);
      await settle(100);
      for (let n = 0; n < 3; n++) port.post(0, n, 0);
      await Promise.all(ws.map((w) => w.done));
      out.capRunning = Atomics.load(log, 2);
      port.close();
    }
    // CloseHandle while a thread waits in GQCS (raw: the library itself never closes under a waiter).
    {
      const r = spawn({ mode: 'rawClose' });
      out.closeWakes = await r.done;
    }
  } catch (error) {
    out.error = String(error?.stack ?? error);
  }
  return out;
}
