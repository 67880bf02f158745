/**
 * A pool thread's stdout and stderr, flushed before a result leaves. What a handler writes there
 * travels to the main thread by message and is acknowledged from its event loop; a program that
 * exits once its last run() settles would lose lines still in flight. So a result waits until
 * the thread's output has been taken in by the main thread (what piscina does too). When the
 * pool's `stdout`/`stderr` option is true nobody may read the stream, and waiting for it could
 * block the result for good: that stream is not waited for.
 */
import { data } from './thread.js';

type Stream = NodeJS.WriteStream;

/** The streams results wait for (resolved on first use: a worker's stdio streams are made lazily). */
let streams: Stream[] | undefined;

function flushed(): Stream[] {
  if (streams === undefined) {
    streams = [];
    if (data.flushStdout) streams.push(process.stdout);
    if (data.flushStderr) streams.push(process.stderr);
  }
  return streams;
}

/** True while some output written by this thread has not been taken in by the main thread. Two loads a result. */
export function outputPending(): boolean {
  const s = flushed();
  for (let i = 0; i < s.length; i++) if (s[i]!.writableLength > 0) return true;
  return false;
}

/** Resolves once everything written so far has been taken in. */
export function outputFlushed(): Promise<unknown> {
  return Promise.all(flushed().map((stream) => stream.writableLength > 0 && new Promise((resolve) => stream.write('', resolve))));
}
