/** Worker-thread helpers for the primitive and port scenarios. */
import { Worker } from 'node:worker_threads';

/** Starts a worker and resolves once it has posted 'ready'. */
export function startWorker(url, workerData) {
  return new Promise((resolve, reject) => {
    const w = new Worker(url, { workerData });
    w.once('error', reject);
    w.once('message', (m) => (m === 'ready' ? resolve(w) : reject(new Error(`unexpected first message ${m}`))));
  });
}

/** Resolves with the next message whose `done` is true. */
export function doneOf(worker) {
  return new Promise((resolve, reject) => {
    worker.on('error', reject);
    worker.on('message', (m) => m?.done && resolve(m));
  });
}
