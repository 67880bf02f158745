/**
 * diagnostics_channel tracing of run(): the TracingChannel 'iocp-pool:run' publishes start and end
 * (around the call to run()), then asyncStart, asyncEnd — and error before them when it rejects —
 * when its promise settles, with one context object per run() (RunTraceContext). An APM tool
 * subscribes with `diagnostics_channel.tracingChannel('iocp-pool:run').subscribe({ … })`.
 *
 * Zero cost when nobody subscribes: run() checks `hasSubscribers` (a few property reads) and,
 * when false, neither builds the context nor wraps the promise.
 */
import { tracingChannel } from 'node:diagnostics_channel';

/**
 * What each of the channel's events carries for one run() (the same object for all of them).
 *
 * @group Events and stats
 */
export interface RunTraceContext {
  /** The pool whose run() was called. */
  pool: object;
  /** The task, as given to run(). */
  task: unknown;
  /** The handler's name: run()'s `name` option, else the pool's `name` option, else 'default'. */
  name: string;
  /** Set before asyncStart when run() resolves: what the handler returned. */
  result?: unknown;
  /** Set before 'error' when run() rejects: why. */
  error?: unknown;
}

/** The channel's name: `diagnostics_channel.tracingChannel('iocp-pool:run')`. */
export const RUN_CHANNEL = 'iocp-pool:run';

export const runChannel = tracingChannel<unknown, RunTraceContext>(RUN_CHANNEL);
