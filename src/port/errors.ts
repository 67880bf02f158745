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

/**
 * Why the native backend (the real Win32 I/O completion port) cannot be used here: thrown by
 * `new CompletionPort({ backend: 'native' })`, `new ThreadPool({ backend: 'native' })` and
 * `CompletionPort.from()` of a native port's handle. Its message says why: not Windows, koffi not
 * installed, or the native backend's entry point (`iocp-pool/native`) not loaded.
 *
 * @group Errors
 */
export class NativeBackendUnavailableError extends Error {
  /** What to match on: the message may change. */
  readonly code = 'ERR_IOCP_NATIVE_UNAVAILABLE';
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`the native completion port backend is not available: ${reason}`, options);
    this.name = 'NativeBackendUnavailableError';
  }
}

/** The reason the native backend cannot run on this platform, or undefined on Windows. */
export function platformReason(): string | undefined {
  if (process.platform !== 'win32') {
    return `it needs Windows (I/O completion ports are a Win32 kernel object), and process.platform is '${process.platform}'; use backend 'portable' or 'auto'`;
  }
  if (process.arch !== 'x64' && process.arch !== 'arm64') return `it needs a 64-bit Windows process, and process.arch is '${process.arch}'`;
  return undefined;
}
