export { CompletionPort } from './completion-port.js';
export { PortClosedError, PortCorruptedError } from './errors.js';
export type {
  AttachOptions,
  CompletionPacket,
  CompletionPortOptions,
  GetAsyncOptions,
  PortHandle,
  PortStats,
  ReleasedThread,
} from './types.js';
