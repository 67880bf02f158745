/**
 * What a handler gets besides its task (HandlerContext): `signal`, when its
 * run() had a signal or a timeout, and `progress()`, when run() had an
 * onProgress; and the result channel those and the results use.
 *
 * Apart from dispatch.ts because it is the task's *side* path: a task with
 * neither gets NO_SIGNAL, one frozen object, and never enters this file
 * between start and finish — the hot path stays allocation-free.
 *
 * Per slot, while its task runs: `controllers` holds the task's TaskControl
 * (abortTask() finds it by slot and checks the ticket: the slot may hold a
 * newer task), `progressOpen` whether its progress() may still report and
 * whether it did; finish() (dispatch.ts) closes both before the result goes
 * out, so a late progress() call is dropped, never sent after the result.
 */
import { F_PROGRESS, F_SIGNAL, F_TIMEOUT, T_START, T_TICKET } from '../layout.js';
import type { ChannelMessage } from '../protocol.js';
import type { HandlerContext } from '../types.js';
import { TaskControl } from './task-control.js';
import { data, f64, i32 } from './thread.js';

/** Handed to handlers of tasks without a signal: one frozen object, no allocation per task. */
export const NO_SIGNAL: HandlerContext = Object.freeze({ signal: undefined, progress: ignoreProgress });

/** A task's context gets a signal when run() had one, or a timeout (which aborts it). */
export const F_CONTROLLED = F_SIGNAL | F_TIMEOUT;

/** Running tasks that were submitted with a signal or a timeout, by slot (their ticket is T_TICKET). */
export const controllers = new Map<number, TaskControl>();

/** Tasks with onProgress whose progress() may still report, by slot, and whether it did: finish() closes them. */
export const progressOpen = new Map<number, { open: boolean; sent: boolean }>();

/** The number of the next message on this thread's result channel (ChannelMessage.seq). */
export let channelSeq = 0;

/** Sends on the result channel; the number counts only messages sent (postMessage throws a value it cannot clone). */
export function toChannel(message: ChannelMessage, transferList?: readonly ArrayBuffer[]): void {
  data.resultChannel.postMessage(message, transferList as ArrayBuffer[] | undefined);
  channelSeq++;
}

/** A context with a signal (run() had one, or a timeout) and/or progress() (run() had onProgress). */
export function makeContext(slot: number, w: number, flags: number): HandlerContext {
  const ticket = i32[w + T_TICKET]!;
  let control: TaskControl | undefined;
  if ((flags & F_CONTROLLED) !== 0) {
    control = new TaskControl(ticket);
    controllers.set(slot, control);
  }
  if ((flags & F_TIMEOUT) !== 0) {
    // The main thread counts the timeout from here (pool/layout.ts T_START).
    f64[((w << 2) >> 3) + T_START] = performance.timeOrigin + performance.now();
  }
  let progress: (value: unknown) => void = ignoreProgress;
  if ((flags & F_PROGRESS) !== 0) {
    const state = { open: true, sent: false };
    progressOpen.set(slot, state);
    progress = (value: unknown): void => {
      // After the task settled its run() has too: a late value has nowhere to go.
      if (!state.open) return;
      state.sent = true;
      toChannel({ kind: 'progress', seq: channelSeq, slot, ticket, value });
    };
  }
  if (control === undefined) return { signal: undefined, progress };
  const made = control;
  // An own, enumerable accessor: destructuring and spreading the context both see the signal.
  return {
    get signal(): AbortSignal {
      return made.signal;
    },
    progress,
  };
}

function ignoreProgress(): void {}
