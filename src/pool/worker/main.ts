/**
 * The pool thread's runtime, started by the worker bundle's entry: attach to
 * the pool's ports and arena, install currentPool(), load the user's module,
 * say ready, and loop (loop.ts).
 */
import { parentPort } from 'node:worker_threads';
import { errorToRecord } from '../../codec/error-record.js';
import { EXIT_STOPPED, type ToWorker } from '../protocol.js';
import { abortTask, initDispatch, payloadArrived, runBroadcast } from './dispatch.js';
import { portFailed, setTeardown } from './leave.js';
import { loop, prepareLoop, recycle } from './loop.js';
import { handlerSettled, settling } from './share.js';
import { loadModule } from './module.js';
import { installClient, runAnswered } from './pool-client.js';
import { data, heap, initThread, send } from './thread.js';

export function startWorker(): void {
  initThread();
  // Joining the heap (heap/heap.ts): subscribed above; the main thread answers with the segments posted
  // before that, which this thread adopts before it reads its first task.
  let granted = (): void => {};
  const grants =
    heap === undefined
      ? undefined
      : new Promise<void>((resolve) => {
          granted = resolve;
        });
  parentPort!.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'heap-grants':
        heap?.adopt(message.grants);
        granted();
        break;
      case 'heap-release':
        // A release round (heap/layout.ts, H7): drop retired segments and see this thread's objects
        // for them collected (this thread may be idle, and an idle thread never collects), then say so.
        if (heap === undefined) send({ type: 'heap-released', held: [] });
        else void heap.collect().then((held) => send({ type: 'heap-released', held }));
        break;
      case 'payload':
        payloadArrived(message.slot, message);
        break;
      case 'abort':
        abortTask(message.slot, message.ticket, message.timeout === true);
        break;
      case 'broadcast':
        // Before the module is ready the runtime is not either: it queues until then.
        ready.then(
          () => runBroadcast(message.id, message.task, message.name),
          () => {}, // the module cannot be used: the pool fails every call
        );
        break;
      case 'recycle':
        recycle();
        break;
      case 'stop':
        // A message runs between turns of this thread's event loop, never inside a port call:
        // leaving here cannot strand a port's lock (which terminate() at a random instant can).
        process.exit(EXIT_STOPPED);
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
  if (heap !== undefined) {
    send({ type: 'heap-hello' });
    // Retiring happens inside an allocation that found the heap at its bound: the main thread runs the round.
    heap.onRetire = () => send({ type: 'heap-retired' });
  }
  installClient();
  /** The module loaded, and setup() is what failed (the pool may retry that in a new thread). */
  let inSetup = false;
  const ready = Promise.all([prepareLoop().then(loadModule), grants]).then(async ([handlers]) => {
    // setup(workerData) before the first task; a throw there means this thread cannot be used.
    if (handlers.setup !== undefined) {
      try {
        await handlers.setup(data.workerData);
      } catch (error) {
        inSetup = true;
        throw Object.assign(new Error(`worker module ${data.filename}: setup() failed: ${(error as Error)?.message ?? String(error)}`), {
          cause: error,
        });
      }
    }
    setTeardown(handlers.teardown);
    initDispatch(handlers, handlerSettled, portFailed, settling);
  });
  ready.then(
    () => {
      send({ type: 'ready' });
      loop().catch((error: unknown) => {
        // A broken invariant (a packet naming a slot that does not exist…): die loudly, as an
        // uncaught error, so the pool reports it and replaces this thread.
        process.nextTick(() => {
          throw error;
        });
      });
    },
    (error: unknown) => send({ type: 'load-error', error: errorToRecord(error), setup: inSetup }),
  );
}
