/**
 * Where the port layer finds the native backend without importing it: the
 * native layer (src/native) registers itself here when it is loaded — by the
 * `iocp-pool/native` entry point, and by the pool thread's runtime — and
 * nothing in it touches koffi until create()/attach() is called. The port
 * layer never imports src/native (upper layers import lower ones), and the
 * main entry point does not load it: an application that never asks for the
 * native backend does not carry the Win32 layer in its bundle.
 */
import { NativeBackendUnavailableError, platformReason } from './errors.js';
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
  if (native !== undefined) return native;
  // Off Windows the reason is the platform, whatever is loaded.
  const unfit = platformReason();
  throw new NativeBackendUnavailableError(
    unfit ??
      "it is an entry point of its own, which this program has not loaded: import 'iocp-pool/native' once (it exports everything 'iocp-pool' does, and the native classes), and install koffi ('npm install koffi')",
  );
}

/** For backend 'auto': native on Windows when it loads, else undefined (portable). */
export function autoNative(): NativeBackend | undefined {
  if (process.platform !== 'win32' || native === undefined) return undefined;
  return native.available() ? native : undefined;
}
