/**
 * The run() promise without a closure: one executor for every task's promise, which parks the
 * promise's functions in two module variables that the caller reads right after `new Promise`
 * (the executor runs synchronously, so nothing can come between). Saves a closure per task on
 * the hot path (main/tasks.ts TaskTable.add) — Promise.withResolvers() would do the same, but
 * Node 20 lacks it.
 *
 * Invariant: capturedResolve and capturedReject are those of the promise made last with
 * `new Promise(capture)`; read them before making another.
 */

export type Resolve = (value: unknown) => void;
export type Reject = (error: unknown) => void;

export let capturedResolve: Resolve | undefined;
export let capturedReject: Reject | undefined;

/** The executor: `new Promise(capture)`, then read capturedResolve and capturedReject. */
export function capture(resolve: (value: never) => void, reject: Reject): void {
  capturedResolve = resolve as Resolve;
  capturedReject = reject;
}
