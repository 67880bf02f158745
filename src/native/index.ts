/**
 * The native backend, Windows only: the real Win32 I/O completion port through koffi (an optional
 * peer dependency: `npm install koffi`), and file and socket handles whose I/O completes on it.
 * `import … from 'iocp-pool/native'`: that entry point exports everything `iocp-pool` does as
 * well, and loading it is what makes `backend: 'native'` (and `'auto'`, on Windows) available to
 * CompletionPort and ThreadPool. koffi itself loads only when a native port is created or
 * attached, never off Windows. Guide: docs/native.md.
 *
 * @module iocp-pool/native
 */
export { NativeCompletionPort, type NativePortHandle } from './native-port.js';
export { NativeFile, type OpenFileOptions } from './file.js';
export { NativeSocket, type ConnectOptions, type ListenOptions, type NativeSocketHandle, type SocketOptions } from './socket.js';
export type { IoCompletionPacket } from './overlapped.js';
export { nativeAvailable } from './win32.js';
