/**
 * The completion port the pool is built on, imported from `iocp-pool`, for code that wants the
 * Win32 shape: FIFO packets, LIFO waiters, a cap on running threads, post/get/close. Guide:
 * docs/port.md.
 *
 * @module CompletionPort
 */
export { CompletionPort, type CompletionPortConstructor } from './completion-port.js';
export { NativeBackendUnavailableError, PortClosedError, PortCorruptedError } from './errors.js';
export type {
  AttachOptions,
  CompletionPacket,
  CompletionPortOptions,
  GetAsyncOptions,
  PortablePortHandle,
  PortHandle,
  PortStats,
  ReleasedThread,
} from './types.js';
