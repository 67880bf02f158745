/**
 * A pool thread's result channel, as the main thread reads it: the slow path
 * of results too large for their slot, and run()'s progress values. The thread
 * writes both, in order, before the packet that completes their task, so
 * draining the channel before a task settles delivers every progress value
 * of that task first, and finds the task's result if it came this way.
 *
 * Read synchronously (receiveMessageOnPort) when a packet needs it; while
 * any task wants progress the channel also listens, so values arrive as they
 * are sent. Both readers take from the one queue, in order.
 */
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import type { ChannelMessage } from '../protocol.js';

export type ProgressSink = (slot: number, ticket: number, value: unknown) => void;

export class ResultChannel {
  readonly port: MessagePort;
  readonly #results = new Map<number, unknown>();
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

  /** The result the thread sent for `slot`, or `missing` if none came. */
  take<M>(slot: number, missing: M): unknown {
    this.drain();
    if (!this.#results.has(slot)) return missing;
    const value = this.#results.get(slot);
    this.#results.delete(slot);
    return value;
  }

  #handle(message: ChannelMessage): void {
    if (message.kind === 'progress') this.#progress(message.slot, message.ticket, message.value);
    else this.#results.set(message.slot, message.value);
  }
}
