/**
 * How a pool thread leaves. Orderly exits — its sentinel (close), idle
 * retirement, recycling — detach from the port (nothing more is handed to
 * this thread), await the module's teardown() if it exports one, and exit
 * with a code that tells the main thread why (protocol.ts). A closed port
 * (destroy) exits at once, without teardown.
 */
import { PortClosedError } from '../../port/index.js';
import { errorToRecord } from '../../codec/error-record.js';
import { EXIT_PORT_CLOSED } from '../protocol.js';
import { port, send, state } from './thread.js';

let teardown: (() => unknown) | undefined;
let leaving = false;

export function setTeardown(fn: (() => unknown) | undefined): void {
  teardown = fn;
}

/** An orderly exit with `code`: detach, teardown (awaited; an error is reported to the pool), exit. */
export function leave(code: number): void {
  if (leaving) return;
  leaving = true;
  port.detach();
  if (teardown === undefined) process.exit(code);
  Promise.resolve()
    .then(teardown)
    .then(
      () => process.exit(code),
      (error: unknown) => {
        send({ type: 'teardown-error', error: errorToRecord(error) });
        process.exit(code);
      },
    );
}

/** A stop was asked (sentinel, recycling): leave once no handler is pending. Called again as each one settles. */
export function maybeLeave(): void {
  if (state.stopping && state.pending === 0) leave(state.exitCode);
}

/** A port call failed: a closed port means destroy(); a detached one, recycling while idle; else a broken invariant. */
export function portFailed(error: unknown): void {
  if (error instanceof PortClosedError) process.exit(EXIT_PORT_CLOSED);
  if ((error as { code?: string })?.code === 'ERR_PORT_DETACHED' && state.stopping) {
    maybeLeave();
    return;
  }
  throw error;
}
