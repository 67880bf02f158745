/**
 * Thrown by every get/getAsync/getMany/post on a closed port, and by every
 * wait that close() interrupted — the portable ERROR_ABANDONED_WAIT_0.
 *
 * @group Errors
 */
export class PortClosedError extends Error {
  /** What to match on (the message may change): the Win32 error this stands for. */
  readonly code = 'ERROR_ABANDONED_WAIT_0';
  constructor(message = 'the completion port is closed') {
    super(message);
    this.name = 'PortClosedError';
  }
}

/**
 * Thrown when a value read from shared memory is out of its bounds: the
 * buffer was written by something that is not this port's code.
 *
 * @group Errors
 */
export class PortCorruptedError extends Error {
  /** What to match on: the message may change. */
  readonly code = 'ERR_PORT_CORRUPTED';
  constructor(what: string) {
    super(`completion port shared memory is corrupted: ${what}`);
    this.name = 'PortCorruptedError';
  }
}
