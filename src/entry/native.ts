/**
 * The `iocp-pool/native` entry point: everything `iocp-pool` exports, with the native backend
 * loaded — `backend: 'native'` (and `'auto'` on Windows) for CompletionPort and ThreadPool, and
 * the native classes. It is an entry point of its own so that the main one, and an application
 * bundled from it, do not carry the Win32 layer. It registers two things: the backend, with the
 * port layer; and the pool thread's runtime with the native backend, which the threads of a
 * native pool start from when the application is bundled (src/pool/main/runtime-source.ts).
 */
import nativeRuntime from 'virtual:iocp-pool-worker-source-native';
import { registerNativeLayer } from '../native/register.js';
import { registerNativeRuntime } from '../pool/main/runtime-source.js';

export * from '../index.js';
export * from '../native/index.js';

registerNativeLayer();
registerNativeRuntime(nativeRuntime);
