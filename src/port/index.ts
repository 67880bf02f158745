export { CompletionPort, type CompletionPortConstructor } from './completion-port.js';
export { PortClosedError, PortCorruptedError } from './errors.js';
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
