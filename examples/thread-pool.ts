/**
 * The CThreadPools example from the original articles (article 2 of docs/background.md:
 * "CreateIoCompletionPort和GetQueuedCompletionStatus函数"), ported to iocp-pool. Run it after a build:
 *
 *   npm run build && npx tsx examples/thread-pool.ts [requests] [threads]
 *
 *   C++ (original)                                    here
 *   ───────────────────────────────────────────────   ─────────────────────────────────────────────
 *   Init(): CreateIoCompletionPort(INVALID_HANDLE_     init(): new ThreadPool({ threads, concurrency })
 *           VALUE, NULL, 0, m_nThreadCount)             — the pool creates the port and its threads
 *   Run(): while (GetQueuedCompletionStatus(...))      each pool thread runs this loop on the port
 *            if (pOverlapped == -1) break;  // exit     (src/pool/worker/loop.ts); the handler below is the
 *            else process(dwCompletionKey);             body: thread-pool-worker.mjs
 *   QueueRequest(wParam): PostQueuedCompletionStatus   queueRequest(wParam): port.post(0, wParam, 0)
 *            (m_hQueue, 0, wParam, NULL)
 *   Close(): for each thread PostQueuedCompletion-     close(): one sentinel (overlapped = -1) per
 *            Status(m_hQueue, 0, 0, (OVERLAPPED*)-1)    thread, after every queued request
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ThreadPool } from 'iocp-pool';

export class CThreadPools {
  #pool: ThreadPool | undefined;
  /** handled[wParam] is set by the thread that processed request wParam; handled[requests] counts them. */
  readonly handled: Int32Array;

  constructor(
    readonly threadCount = 2,
    readonly requests = 1000,
  ) {
    this.handled = new Int32Array(new SharedArrayBuffer(4 * (requests + 1)));
  }

  /** Init: the completion port and its threads. */
  init(): boolean {
    this.#pool = new ThreadPool({
      filename: fileURLToPath(new URL('./thread-pool-worker.mjs', import.meta.url)),
      threads: this.threadCount,
      concurrency: this.threadCount, // CreateIoCompletionPort(..., m_nThreadCount)
      workerData: { handled: this.handled.buffer },
    });
    return true;
  }

  /** QueueRequest: false when the port's queue is full, as PostQueuedCompletionStatus returns FALSE. */
  queueRequest(wParam: number): boolean {
    return this.#pool!.queueRequest(wParam);
  }

  /** Close: one sentinel per thread; resolves when every thread has left its Run loop. */
  async close(): Promise<void> {
    await this.#pool!.close();
  }
}

export interface ExampleResult {
  requests: number;
  /** Requests handled when close() resolved (read after, so nothing handled later could count). */
  handled: number;
  /** Every request 0..requests-1 was handled exactly once. */
  everyHandledOnce: boolean;
}

export async function main(requests = 1000, threads = 2, log: (line: string) => void = console.log): Promise<ExampleResult> {
  const pools = new CThreadPools(threads, requests);
  pools.init();
  for (let wParam = 0; wParam < requests; wParam++) {
    // A full queue: let the threads drain it a little, then post again (nothing is dropped).
    while (!pools.queueRequest(wParam)) await new Promise((resolve) => setImmediate(resolve));
  }
  await pools.close();
  const handled = Atomics.load(pools.handled, requests);
  let everyHandledOnce = true;
  for (let i = 0; i < requests; i++) if (Atomics.load(pools.handled, i) !== 1) everyHandledOnce = false;
  log(`${threads} threads handled ${handled} of ${requests} requests before close() resolved; each exactly once: ${everyHandledOnce}`);
  return { requests, handled, everyHandledOnce };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [requests, threads] = process.argv.slice(2).map(Number);
  main(requests || undefined, threads || undefined).then((r) => {
    if (!r.everyHandledOnce || r.handled !== r.requests) process.exitCode = 1;
  });
}
