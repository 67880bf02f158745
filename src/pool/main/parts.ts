/**
 * The pool's shared memory and the parts that run on it, made from the resolved options: the two
 * completion ports, the shared heap, the slot arena (its header words and handler names), the
 * thread set, the task table, the keep-alive policy and the result drain.
 *
 * Apart from thread-pool.ts, which keeps the public face and what the parts tell each other: here
 * are the sizes of the shared structures and why they are what they are, decided once, at
 * `new ThreadPool()`. Each part is given the parts it uses, all created before it; none listens
 * yet (thread-pool.ts wires the events) and no thread is started.
 */
import { CompletionPort } from '../../port/index.js';
import { SlotCodec } from '../../codec/slot-codec.js';
import { A_MAGIC, A_MIN, A_SLOT_BYTES, A_SLOTS, ARENA_MAGIC, arenaGeometry } from '../layout.js';
import { HandlerNames } from '../names.js';
import type { ResolvedOptions } from '../options.js';
import { HeapKeeper } from './heap-keeper.js';
import { KeepAlive } from './keep-alive.js';
import type { LifecycleParts } from './lifecycle.js';
import { ResultDrain } from './results.js';
import { TaskTable } from './tasks.js';
import { ThreadSet } from './threads.js';

/** Every part of a pool (the lifecycle's, and the handler names run() looks up). */
export interface PoolParts extends LifecycleParts {
  readonly names: HandlerNames;
}

/** Makes the shared memory and the parts of a pool with options `o`; `workerData` goes to every thread. */
export function makeParts(o: ResolvedOptions, workerData: unknown): PoolParts {
  const { slots, backend } = o;
  // 1. Shared memory. The task port holds every slot's packet plus the queueRequest packets and
  // sentinels. The result port has one consumer (the main thread) and one packet per slot at most,
  // plus one a dead thread may leave stale (layout.ts A7), so a post never finds it full;
  // rounded up to a power of two (the ring's size anyway: a ring whose capacity is its size
  // skips the bound check on each post). maxThreads: every pool thread posts to it, and a
  // poster with a claim record of its own costs a death nothing more than its claim.
  const taskPort = new CompletionPort({
    concurrency: o.concurrency,
    capacity: o.queueCapacity + slots,
    maxThreads: 2 * o.threads + 16,
    backend,
  });
  const resultCapacity = 2 ** Math.ceil(Math.log2(slots + 1));
  const resultPort = new CompletionPort({ concurrency: 1, capacity: resultCapacity, maxThreads: o.threads + 8, spinCount: 0, backend });
  // Tasks and results too large for a slot go into the shared heap.
  const heap = new HeapKeeper(o.heap);
  const geo = arenaGeometry(slots, o.slotBytes);
  const arena = new SlotCodec(new SharedArrayBuffer(geo.byteLength), slots, geo.slotBytes, heap.heap, o.serialization);
  const names = new HandlerNames(arena.buffer, geo);
  const i32 = arena.i32;
  i32[A_MAGIC] = ARENA_MAGIC;
  i32[A_SLOTS] = slots;
  i32[A_SLOT_BYTES] = geo.slotBytes;
  i32[A_MIN] = o.minThreads;

  // 2. The parts, each given the parts it uses, all created before it.
  const threads = new ThreadSet(
    {
      __iocpPool: true,
      filename: o.filename,
      defaultName: o.name,
      taskPort: taskPort.handle,
      resultPort: resultPort.handle,
      arena: arena.buffer,
      slots,
      slotBytes: geo.slotBytes,
      heap: heap.heap?.handle,
      serialization: o.serialization,
      spinCount: o.spinCount,
      idleTimeout: o.minThreads < o.threads ? o.idleTimeout : Infinity,
      flushStdout: o.workerOptions.stdout !== true,
      flushStderr: o.workerOptions.stderr !== true,
      queueCapacity: o.queueCapacity,
      maxTasksPerThread: o.maxTasksPerThread,
      maxHeapUsedBeforeRecycle: o.maxHeapUsedBeforeRecycle,
      concurrentTasksPerThread: o.concurrentTasksPerThread,
      workerData,
    },
    o.workerOptions,
    heap,
  );
  const tasks = new TaskTable(arena, taskPort, threads, o.concurrency);
  const keepAlive = new KeepAlive({ i32, taskPort, tasks, threads });
  const results = new ResultDrain(resultPort, tasks, threads, o.concurrency);
  return {
    filename: o.filename,
    size: o.threads,
    minThreads: o.minThreads,
    i32,
    taskPort,
    resultPort,
    tasks,
    results,
    threads,
    heap,
    keepAlive,
    names,
  };
}
