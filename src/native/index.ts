/**
 * The native backend: the real Win32 I/O completion port through koffi.
 * Importing this module registers the backend with the port layer; koffi is
 * loaded only when a native port is created or attached (never off Windows).
 * Guide: docs/native.md.
 *
 * @module native
 */
import { registerNativeBackend } from '../port/native-registry.js';
import { NativeCompletionPort } from './native-port.js';
import { nativeAvailable } from './win32.js';

registerNativeBackend({
  create: (config) => NativeCompletionPort.create(config),
  attach: (handle) => NativeCompletionPort.from(handle),
  available: nativeAvailable,
});

export { NativeCompletionPort, type NativePortHandle } from './native-port.js';
export { NativeFile, type OpenFileOptions } from './file.js';
export { NativeSocket, type ConnectOptions, type ListenOptions, type NativeSocketHandle, type SocketOptions } from './socket.js';
export type { IoCompletionPacket } from './overlapped.js';
export { NativeBackendUnavailableError, nativeAvailable } from './win32.js';
