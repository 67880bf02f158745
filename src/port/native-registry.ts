/**
 * Where the port layer finds the native backend without importing it: the
 * native layer (src/native) registers itself here when it is loaded (the
 * package entry, and the pool thread's entry, load it), and nothing in it
 * touches koffi until create()/attach() is called. The port layer never
 * imports src/native (upper layers import lower ones).
 */
import type { PortConfig } from './options.js';
import type { PortBase } from './port-base.js';
import type { NativePortHandle } from './types.js';

/** What the native layer gives the factory. */
export interface NativeBackend {
  /** A native port, or throws an error that says why it cannot load. */
  create(config: PortConfig): PortBase;
  /** Attach to a native port's handle (checks the rest of it). */
  attach(handle: NativePortHandle): PortBase;
  /** Whether create() can work here (Windows, koffi loads). Never throws. */
  available(): boolean;
}

let native: NativeBackend | undefined;

export function registerNativeBackend(backend: NativeBackend): void {
  native = backend;
}

/** For backend 'native' (or a native handle): the registered backend, or an error saying why there is none. */
export function requireNative(): NativeBackend {
  if (native === undefined) {
    throw new Error(
      "the native completion port backend is not available: the package's native layer was not loaded (import CompletionPort from the 'iocp-pool' package entry, not from an internal file)",
    );
  }
  return native;
}

/** For backend 'auto': native on Windows when it loads, else undefined (portable). */
export function autoNative(): NativeBackend | undefined {
  if (process.platform !== 'win32' || native === undefined) return undefined;
  return native.available() ? native : undefined;
}
