/**
 * Hands the native backend to the port layer (src/port/native-registry.ts), which never imports
 * this layer. Called by the entry points that load it — `iocp-pool/native` and the pool thread's
 * runtime — as a call rather than as an import's side effect, so that no bundler's tree shaking
 * (package.json "sideEffects") can drop it. Nothing here touches koffi: it loads when a native
 * port is created or attached.
 */
import { registerNativeBackend } from '../port/native-registry.js';
import { NativeCompletionPort } from './native-port.js';
import { nativeAvailable } from './win32.js';

/** Registers the native backend with the port layer (a second call replaces the first with the same). */
export function registerNativeLayer(): void {
  registerNativeBackend({
    create: (config) => NativeCompletionPort.create(config),
    attach: (handle) => NativeCompletionPort.from(handle),
    available: nativeAvailable,
  });
}
