/**
 * Where the port layer finds the native backend without importing it: the
 * native layer (src/native) registers itself here when the package entry
 * loads it, and nothing in it touches koffi until create()/from() is called.
 * The port layer never imports src/native (upper layers import lower ones).
 */
import type { CompletionPortOptions, PortHandle } from './types.js';

export interface NativeBackend {
  /** A native port with the CompletionPort interface, or throws an error that says why it cannot load. */
  create(options: CompletionPortOptions): unknown;
  /** Attach to a native port's handle. */
  from(handle: PortHandle): unknown;
  /** Whether create() can work here (Windows, koffi loads). Never throws. */
  available(): boolean;
  /** Whether value is one of its ports (for `instanceof CompletionPort`). */
  isPort(value: unknown): boolean;
}

let native: NativeBackend | undefined;

export function registerNativeBackend(backend: NativeBackend): void {
  native = backend;
}

/** For backend 'native' (or a native handle): the registered backend, or an error saying why there is none. */
export function requireNative(): NativeBackend {
  if (native === undefined) {
    throw new Error(
      "the native completion port backend is not available: src/native was not loaded (import CompletionPort from the 'iocp-pool' package entry)",
    );
  }
  return native;
}

/** True for a native port: `native instanceof CompletionPort` holds, as the interface is the same. */
export function isNativePort(value: unknown): boolean {
  return native !== undefined && native.isPort(value);
}

/** For backend 'auto': native on Windows when it loads, else undefined (portable). */
export function autoNative(): NativeBackend | undefined {
  if (process.platform !== 'win32' || native === undefined) return undefined;
  return native.available() ? native : undefined;
}
