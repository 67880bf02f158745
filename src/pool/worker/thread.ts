/**
 * What one pool thread knows about itself and its pool: set once by
 * initThread() when the runtime starts, read by the rest of the runtime
 * (exported bindings are live: importers see the values init wrote).
 */
import { parentPort, type TransferListItem, workerData } from 'node:worker_threads';
import { CompletionPort } from '../../port/index.js';
import { SharedHeap } from '../../heap/heap.js';
import { SlotCodec } from '../../codec/slot-codec.js';
import { EXIT_SENTINEL, type FromWorker, type PoolWorkerData, PROTOCOL } from '../protocol.js';

export let data: PoolWorkerData;
/** The task port: packets of run() tasks, queueRequest and sentinels. */
export let port: CompletionPort;
/** The result port: one packet per finished task, for the main thread. */
export let results: CompletionPort;
export let views: SlotCodec;
/** The pool's shared heap (tasks and results larger than a slot, alloc() views); undefined where the runtime cannot run one. */
export let heap: SharedHeap | undefined;
export let i32: Int32Array;
export let f64: Float64Array;

/** Counters the loop and the task code share. */
export const state = {
  /** Handlers (and payload fetches) that returned a promise and have not settled. */
  pending: 0,
  /** This thread took its sentinel (or is being recycled): no more packets; it leaves once `pending` is 0. */
  stopping: false,
  /** The exit code it leaves with when `stopping`: EXIT_SENTINEL or EXIT_RECYCLED. */
  exitCode: EXIT_SENTINEL,
  /** run() tasks and queueRequest packets taken (maxTasksPerThread). */
  taken: 0,
  /** The loop is waiting for a packet on the event loop: recycling must end that wait (detach()). */
  waitingOnLoop: false,
  /** It took a packet and told the main thread so ('working'): a later death is not a start-up failure. */
  working: false,
};

export function initThread(): void {
  data = workerData as PoolWorkerData;
  port = CompletionPort.from(data.taskPort, { spinCount: data.spinCount });
  results = CompletionPort.from(data.resultPort);
  // First thing: subscribe to the heap's channel, so that from here on no new segment is missed
  // (the ones posted before are in the main thread's answer to 'heap-hello': see main.ts).
  heap = data.heap === undefined ? undefined : SharedHeap.attach(data.heap);
  views = new SlotCodec(data.arena, data.slots, data.slotBytes, heap, data.serialization);
  i32 = views.i32;
  f64 = views.f64;
}

/** To the main thread, outside shared memory (the slow path only: see protocol.ts), marked as the pool's own. */
export function send(message: FromWorker, transferList?: readonly TransferListItem[]): void {
  (message as FromWorker & { [PROTOCOL]?: true })[PROTOCOL] = true;
  parentPort!.postMessage(message, transferList as TransferListItem[] | undefined);
}
