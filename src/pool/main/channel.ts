/**
 * A pool thread's result channel, as the main thread reads it: the slow path
 * of results too large for their slot, and run()'s progress values (then the
 * end of a task's progress). The thread writes them, in order, before the
 * packet that completes their task, so reading the channel up to what the
 * task sent before its packet delivers every progress value of that task
 * first, and finds the task's result if it came this way.
 *
 * Read synchronously (receiveMessageOnPort) when a packet needs it; while
 * any task wants progress the channel also listens, so values arrive as they
 * are sent. On Node and Bun both readers take from the one queue, in order,
 * and a message sent before the packet is always there to read. On Deno a
 * listening port takes messages ahead into its event loop, where
 * receiveMessageOnPort cannot see them: the task's packet may come before
 * what the thread sent ahead of it, and the synchronous reader may get a
 * message before an earlier one the event loop holds. So messages carry the
 * thread's sequence number and are handled in that order (a message ahead of
 * a gap waits for it), and a packet that needs something from the channel
 * waits for it (whenArrived) rather than settling its task without it.
 */
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import type { ChannelMessage } from '../protocol.js';

export type ProgressSink = (slot: number, ticket: number, value: unknown) => void;

export class ResultChannel {
  readonly port: MessagePort;
  readonly #results = new Map<number, unknown>();
  /** Tasks whose progress ended, by slot: the ticket of the task that ended it. */
  readonly #ended = new Map<number, number>();
  /** Packets waiting for what their task sent ahead of them, by slot. */
  readonly #waiting = new Map<number, () => void>();
  /** The sequence number of the next message to handle, and messages that came before their turn. */
  #next = 0;
  readonly #early = new Map<number, ChannelMessage>();
  readonly #progress: ProgressSink;
  #listening = false;

  constructor(port: MessagePort, progress: ProgressSink) {
    this.port = port;
    this.#progress = progress;
  }

  /** Deliver progress as it comes (a task wants it). The channel never keeps the process alive. */
  listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    this.port.on('message', (message: ChannelMessage) => this.#handle(message));
    this.port.unref();
  }

  /** Everything the thread has sent so far, handled now. */
  drain(): void {
    for (;;) {
      const received = receiveMessageOnPort(this.port);
      if (received === undefined) return;
      this.#handle(received.message as ChannelMessage);
    }
  }

  /**
   * Whether everything the task in `slot` (of `ticket`) sent ahead of its packet has been read:
   * the end of its progress (`progress`), its result (`result`). Reads what is there first.
   */
  arrived(slot: number, ticket: number, progress: boolean, result: boolean): boolean {
    this.drain();
    if (progress && this.#ended.get(slot) !== ticket) return false;
    if (result && !this.#results.has(slot)) return false;
    this.#ended.delete(slot);
    return true;
  }

  /** Calls `then` once arrived() would be true; the channel listens meanwhile (it is what delivers). */
  whenArrived(slot: number, ticket: number, progress: boolean, result: boolean, then: () => void): void {
    this.listen();
    this.#waiting.set(slot, () => {
      if (!this.arrived(slot, ticket, progress, result)) return;
      this.#waiting.delete(slot);
      // Not from inside the reading of the channel (whose caller may be settling another task).
      queueMicrotask(then);
    });
  }

  /** The result the thread sent for `slot`, or `missing` if none came. */
  take<M>(slot: number, missing: M): unknown {
    this.drain();
    if (!this.#results.has(slot)) return missing;
    const value = this.#results.get(slot);
    this.#results.delete(slot);
    return value;
  }

  /** Handles `message` in its thread's order: a message that came before its turn waits for the ones ahead of it. */
  #handle(message: ChannelMessage): void {
    if (message.seq !== this.#next) {
      this.#early.set(message.seq, message);
      return;
    }
    for (let m: ChannelMessage | undefined = message; m !== undefined; m = this.#early.get(this.#next)) {
      this.#early.delete(this.#next);
      this.#next++;
      if (m.kind === 'progress') this.#progress(m.slot, m.ticket, m.value);
      else if (m.kind === 'progress-end') this.#ended.set(m.slot, m.ticket);
      else this.#results.set(m.slot, m.value);
      this.#waiting.get(m.slot)?.();
    }
  }
}
