/**
 * The pool thread's runtime, started by the worker bundle's entry: attach to
 * the pool's ports and arena, install currentPool(), load the user's module,
 * say ready, and loop (loop.ts).
 */
import { parentPort } from 'node:worker_threads';
import { errorToRecord } from '../codec.js';
import type { ToWorker } from '../protocol.js';
import { abortTask, initDispatch, payloadArrived } from './dispatch.js';
import { loop, maybeExit, portFailed, prepareLoop } from './loop.js';
import { loadModule } from './module.js';
import { installClient, runAnswered } from './pool-client.js';
import { initThread, send } from './thread.js';

export function startWorker(): void {
  initThread();
  parentPort!.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'payload':
        payloadArrived(message.slot, message);
        break;
      case 'abort':
        abortTask(message.slot, message.ticket);
        break;
      case 'run-result':
        runAnswered(message.id, message.ok, message.value);
        break;
    }
  });
  // The parent port stays ref'd: while a wait is on the event loop the only other thing pending is
  // Atomics.waitAsync, which does not keep an event loop alive, and this thread must not end on its
  // own — it leaves only by process.exit (sentinel, retirement, closed port). The owner's
  // worker.unref() decides whether an idle pool keeps the process alive.
  installClient();
  prepareLoop()
    .then(loadModule)
    .then(
      (handlers) => {
        initDispatch(handlers, maybeExit, portFailed);
        send({ type: 'ready' });
        loop().catch((error: unknown) => {
          // A broken invariant (a packet naming a slot that does not exist…): die loudly, as an
          // uncaught error, so the pool reports it and replaces this thread.
          process.nextTick(() => {
            throw error;
          });
        });
      },
      (error: unknown) => send({ type: 'load-error', error: errorToRecord(error) }),
    );
}
