/**
 * The base both backends' classes extend. Its prototype is
 * `CompletionPort.prototype` (./completion-port.ts), so `instanceof
 * CompletionPort` holds for either backend; it holds what both implement the
 * same way. Its abstract members are the CompletionPort interface (the
 * factory in ./completion-port.ts checks that a PortBase is one); it does not
 * name that interface, which would make the two files import each other.
 */
import type { CompletionPacket, GetAsyncOptions, PortHandle, PortStats, ReleasedThread } from './types.js';
import { checkTimeout } from './validate.js';

export abstract class PortBase {
  abstract readonly handle: PortHandle;
  abstract readonly concurrency: number;
  abstract readonly capacity: number;
  abstract readonly closed: boolean;
  abstract post(bytesTransferred?: number, completionKey?: number, overlapped?: number): boolean;
  abstract get(timeoutMs?: number): CompletionPacket | null;
  abstract getMany(max: number, timeoutMs?: number): CompletionPacket[];
  abstract getAsync(timeoutMs?: number, options?: GetAsyncOptions): Promise<CompletionPacket | null>;
  abstract blocking<T>(fn: () => T): T;
  abstract close(): CompletionPacket[];
  abstract stats(): PortStats;
  abstract releaseThread(threadId: number): ReleasedThread;
  abstract detach(): void;

  /**
   * Moves this thread's pending getAsync wait to rank `behind` (see CompletionPort.rerank). The
   * kernel's port has one LIFO order and no ranks: a no-op unless a backend overrides it.
   */
  rerank(_behind: number | boolean): void {}

  /** Private cell for sleep(): Atomics.wait needs a shared Int32Array. */
  #sleepCell: Int32Array | undefined;

  /**
   * Sleeps ms milliseconds as a blocking section (see blocking()). Blocks
   * this thread. Atomics.wait is a kernel wait: on the native backend the
   * kernel releases another waiter meanwhile, as it does for any wait.
   */
  sleep(ms: number): void {
    checkTimeout('ms', ms);
    const cell = (this.#sleepCell ??= new Int32Array(new SharedArrayBuffer(4)));
    this.blocking(() => Atomics.wait(cell, 0, 0, ms));
  }
}
