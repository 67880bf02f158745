/**
 * The native getAsync: the same GetQueuedCompletionStatus, run on a libuv
 * thread-pool thread through koffi's `.async`, so the event loop never
 * blocks. libuv's pool also runs fs, dns and crypto work, so at most
 * UV_THREADPOOL_SIZE − 1 (default 3) such waits are in the kernel at once
 * per process; later calls wait their turn in JS, newest first (the
 * kernel's LIFO order), not yet counted in stats().waiting.
 *
 * Keeps the ledger's L1–L3 (./ledger.ts) across the asynchronous wait: the
 * wait is counted in the instance's entry — or, after a detach(), in the
 * entry detach() kept for it — from before the call to after its callback.
 */
import type { CompletionPacket } from '../port/types.js';
import { dequeued, toMs } from './dequeued.js';
import type { Ledger } from './ledger.js';
import { INFINITE, type Win32 } from './win32.js';

/**
 * Read on the first native getAsync, not at import: importing the package must not touch
 * the environment (Deno asks for --allow-env on every read, even on Linux).
 */
let asyncWaitLimit = 0;
function maxAsyncWaits(): number {
  if (asyncWaitLimit === 0) asyncWaitLimit = Math.max(1, (Number(process.env.UV_THREADPOOL_SIZE) || 4) - 1);
  return asyncWaitLimit;
}
let asyncWaits = 0;
const asyncQueue: Array<() => void> = [];

/** An asynchronous wait of up to `timeout` ms on the port; the caller has registered and given back its running slot. */
export function waitAsync(w: Win32, port: bigint, ledger: Ledger, timeout: number): Promise<CompletionPacket | null> {
  ledger.asyncPending++;
  const settled = (): void => {
    if (--ledger.asyncPending === 0 && ledger.draining >= 0) ledger.freeEntry(ledger.draining, false);
  };
  return new Promise((resolve, reject) => {
    const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let started = false;
    const start = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      started = true;
      asyncWaits++;
      startAsync(w, port, ledger, deadline, (error, packet) => {
        asyncWaits--;
        settled();
        const next = asyncQueue.pop();
        if (next !== undefined) next();
        if (error !== undefined) reject(error);
        else resolve(packet!);
      });
    };
    if (asyncWaits < maxAsyncWaits()) {
      start();
      return;
    }
    // Over the limit: wait in JS, newest first (the kernel's LIFO order).
    asyncQueue.push(start);
    if (deadline !== Infinity) {
      timer = setTimeout(() => {
        if (started) return;
        const i = asyncQueue.indexOf(start);
        if (i >= 0) asyncQueue.splice(i, 1);
        settled();
        resolve(null);
      }, timeout);
    }
  });
}

function startAsync(
  w: Win32,
  port: bigint,
  ledger: Ledger,
  deadline: number,
  done: (error: unknown, packet?: CompletionPacket | null) => void,
): void {
  // The entry this wait is counted in: the instance's, or the one a detach() keeps for it.
  let entry: number;
  try {
    entry = ledger.slot >= 0 ? ledger.slot : ledger.draining >= 0 ? ledger.draining : ledger.register();
    ledger.beginWait(entry);
  } catch (error) {
    done(error);
    return;
  }
  let out: bigint;
  try {
    out = w.HeapAlloc(w.processHeap, 0, 32n);
    if (out === 0n) throw new RangeError('HeapAlloc for GetQueuedCompletionStatus out-parameters failed');
  } catch (error) {
    ledger.endWait(entry);
    ledger.leave(entry);
    done(error);
    return;
  }
  const ms = deadline === Infinity ? INFINITE : toMs(Math.max(0, deadline - performance.now()));
  w.GetQueuedCompletionStatus.async(port, out, out + 8n, out + 16n, ms, (callError, ok) => {
    // koffi restores the pool thread's last error on this thread before calling back.
    const error = ok ? 0 : w.GetLastError();
    ledger.endWait(entry);
    let packet: CompletionPacket | null = null;
    let failed = false;
    let failure: unknown;
    try {
      if (callError) throw callError;
      const big = new BigUint64Array(w.view(out, 24));
      const bytes = new Uint32Array(w.view(out, 4))[0]!;
      packet = dequeued(w, ledger, ok, error, bytes, big[1]!, big[2]!);
      // A wait that outlived a detach() delivers its packet; the detached thread is not counted as running.
      if (packet !== null && entry === ledger.slot) ledger.took();
    } catch (e) {
      failed = true;
      failure = e;
    } finally {
      w.HeapFree(w.processHeap, 0, out);
      ledger.leave(entry);
    }
    // Settled after leaving: the entry may be freed (and reused) once this wait is done with it.
    if (failed) done(failure);
    else done(undefined, packet);
  });
}
