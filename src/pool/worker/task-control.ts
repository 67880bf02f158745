/** A task's abort state in its thread, and the AbortController made only if the handler asks. */

/**
 * The abort state of a task submitted with a signal or a timeout. Its AbortController is made
 * only when the handler reads `context.signal`: a controller costs more than a tiny task (profile
 * of one signal shared by 100,000 echo tasks: createAbortSignal and the garbage it leaves took
 * about half of each thread's time), and most handlers never look. An abort that comes first is
 * kept (`reason`) and handed to the controller when it is made.
 */
export class TaskControl {
  controller: AbortController | undefined = undefined;
  reason: unknown = undefined;
  aborted = false;
  constructor(readonly ticket: number) {}

  get signal(): AbortSignal {
    let controller = this.controller;
    if (controller === undefined) {
      controller = this.controller = new AbortController();
      if (this.aborted) controller.abort(this.reason);
    }
    return controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
