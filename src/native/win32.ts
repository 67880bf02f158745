/**
 * The Win32 surface the native backend calls, bound through koffi.
 *
 * Loaded once per thread (koffi is a per-isolate addon), on first use, and
 * only when a native port is asked for: nothing here runs at import time, so
 * importing the library on Linux or macOS never touches koffi.
 *
 * Every HANDLE and pointer crosses the FFI as a uint64 (BigInt): the memory
 * the kernel writes into (OVERLAPPED, buffers, GQCS out-parameters) is
 * allocated with HeapAlloc, never a JS buffer that the GC could move.
 */
import { createRequire } from 'node:module';
import { NativeBackendUnavailableError, platformReason } from '../port/errors.js';

type Fn<A extends unknown[], R> = ((...args: A) => R) & { async: (...args: [...A, (err: unknown, res: R) => void]) => void };

export interface Win32 {
  koffi: any;
  CreateIoCompletionPort: Fn<[bigint, bigint, bigint, number], bigint>;
  PostQueuedCompletionStatus: Fn<[bigint, number, bigint, bigint], number>;
  GetQueuedCompletionStatus: Fn<[bigint, bigint, bigint, bigint, number], number>;
  GetQueuedCompletionStatusEx: Fn<[bigint, bigint, number, bigint, number, number], number>;
  CloseHandle: Fn<[bigint], number>;
  GetLastError: Fn<[], number>;
  HeapAlloc: Fn<[bigint, number, bigint], bigint>;
  HeapFree: Fn<[bigint, number, bigint], number>;
  processHeap: bigint;
  CreateFileW: Fn<[string, number, number, bigint, number, number, bigint], bigint>;
  ReadFile: Fn<[bigint, bigint, number, bigint, bigint], number>;
  WriteFile: Fn<[bigint, bigint, number, bigint, bigint], number>;
  CancelIoEx: Fn<[bigint, bigint], number>;
  GetFileSizeEx: Fn<[bigint, bigint], number>;
  /** NtQueryIoCompletion(IoCompletionBasicInformation): the kernel's queue depth, or undefined if ntdll lacks it. */
  NtQueryIoCompletion: Fn<[bigint, number, bigint, number, bigint], number> | undefined;
  RtlNtStatusToDosError: Fn<[number], number>;
  /** An ArrayBuffer over native memory (no copy). */
  view(address: bigint, length: number): ArrayBuffer;
}

let cached: Win32 | undefined;
let failure: NativeBackendUnavailableError | undefined;

/** Loads koffi and binds kernel32/ntdll, or throws NativeBackendUnavailableError saying why. */
export function win32(): Win32 {
  if (cached !== undefined) return cached;
  if (failure !== undefined) throw failure;
  try {
    cached = load();
    return cached;
  } catch (error) {
    failure =
      error instanceof NativeBackendUnavailableError
        ? error
        : new NativeBackendUnavailableError(`binding kernel32 through koffi failed: ${(error as Error)?.message ?? error}`, { cause: error });
    throw failure;
  }
}

/** True when win32() would succeed: used by backend 'auto'. Never throws. */
export function nativeAvailable(): boolean {
  if (process.platform !== 'win32') return false;
  try {
    win32();
    return true;
  } catch {
    return false;
  }
}

/** koffi returns a uint64_t as a number when it fits in 53 bits: make handles and pointers BigInt always. */
export function big(fn: any): any {
  const wrapped: any = (...args: unknown[]) => BigInt(fn(...args));
  wrapped.async = (...args: any[]) => {
    const cb = args.pop();
    fn.async(...args, (err: unknown, res: unknown) => cb(err, err ? res : BigInt(res as number)));
  };
  return wrapped;
}

function load(): Win32 {
  const unfit = platformReason();
  if (unfit !== undefined) throw new NativeBackendUnavailableError(unfit);
  let koffi: any;
  try {
    koffi = loadKoffi();
  } catch (error) {
    throw new NativeBackendUnavailableError(
      `koffi (an optional peer dependency of iocp-pool) could not be loaded (${(error as Error)?.message ?? error}); install it with 'npm install koffi'`,
      { cause: error },
    );
  }
  const k32 = koffi.load('kernel32.dll');
  const ntdll = koffi.load('ntdll.dll');
  const f = (lib: any, decl: string) => lib.func(decl);
  const HANDLE = 'uint64_t';
  let NtQueryIoCompletion: Win32['NtQueryIoCompletion'];
  try {
    NtQueryIoCompletion = f(ntdll, `int32_t __stdcall NtQueryIoCompletion(${HANDLE} h, int cls, uint64_t info, uint32_t len, uint64_t retlen)`);
  } catch {
    NtQueryIoCompletion = undefined;
  }
  const GetProcessHeap = big(f(k32, `${HANDLE} __stdcall GetProcessHeap()`));
  return {
    koffi,
    CreateIoCompletionPort: big(
      f(k32, `${HANDLE} __stdcall CreateIoCompletionPort(${HANDLE} file, ${HANDLE} existing, uint64_t key, uint32_t threads)`),
    ),
    PostQueuedCompletionStatus: f(k32, `int __stdcall PostQueuedCompletionStatus(${HANDLE} port, uint32_t bytes, uint64_t key, uint64_t overlapped)`),
    GetQueuedCompletionStatus: f(
      k32,
      `int __stdcall GetQueuedCompletionStatus(${HANDLE} port, uint64_t pBytes, uint64_t pKey, uint64_t pOverlapped, uint32_t ms)`,
    ),
    GetQueuedCompletionStatusEx: f(
      k32,
      `int __stdcall GetQueuedCompletionStatusEx(${HANDLE} port, uint64_t entries, uint32_t count, uint64_t pRemoved, uint32_t ms, int alertable)`,
    ),
    CloseHandle: f(k32, `int __stdcall CloseHandle(${HANDLE} h)`),
    GetLastError: f(k32, 'uint32_t __stdcall GetLastError()'),
    HeapAlloc: big(f(k32, `uint64_t __stdcall HeapAlloc(${HANDLE} heap, uint32_t flags, uint64_t size)`)),
    HeapFree: f(k32, `int __stdcall HeapFree(${HANDLE} heap, uint32_t flags, uint64_t p)`),
    processHeap: GetProcessHeap(),
    CreateFileW: big(
      f(
        k32,
        `${HANDLE} __stdcall CreateFileW(str16 name, uint32_t access, uint32_t share, uint64_t security, uint32_t disposition, uint32_t flags, ${HANDLE} template)`,
      ),
    ),
    ReadFile: f(k32, `int __stdcall ReadFile(${HANDLE} h, uint64_t buffer, uint32_t length, uint64_t pRead, uint64_t overlapped)`),
    WriteFile: f(k32, `int __stdcall WriteFile(${HANDLE} h, uint64_t buffer, uint32_t length, uint64_t pWritten, uint64_t overlapped)`),
    CancelIoEx: f(k32, `int __stdcall CancelIoEx(${HANDLE} h, uint64_t overlapped)`),
    GetFileSizeEx: f(k32, `int __stdcall GetFileSizeEx(${HANDLE} h, uint64_t pSize)`),
    NtQueryIoCompletion,
    RtlNtStatusToDosError: f(ntdll, 'uint32_t __stdcall RtlNtStatusToDosError(int32_t status)'),
    view: (address, length) => koffi.view(address, length),
  };
}

// Win32 constants used by the backend.
export const INVALID_HANDLE_VALUE = 0xffffffffffffffffn;
export const INFINITE = 0xffffffff;
export const WAIT_TIMEOUT = 258;
export const ERROR_ABANDONED_WAIT_0 = 735;
export const ERROR_INVALID_HANDLE = 6;
export const ERROR_IO_PENDING = 997;
export const ERROR_HANDLE_EOF = 38;
export const HEAP_ZERO_MEMORY = 0x8;

/**
 * koffi, resolved from this package (installed) or, when this code was bundled into an
 * application (a pool thread started from the inlined runtime), from the application's folder.
 * Always at run time, never by a bundler: a Node-API addon cannot be bundled, so createRequire is
 * reached through process.getBuiltinModule (Node 20.16+), whose calls bundlers do not follow —
 * webpack would otherwise try to resolve 'koffi' at build time and warn when the application has
 * not installed the optional peer, and warn again at the second call, whose argument it cannot read.
 */
function loadKoffi(): any {
  const requireFrom: typeof createRequire = process.getBuiltinModule?.('node:module').createRequire ?? createRequire;
  try {
    return requireFrom(import.meta.url)('koffi');
  } catch (error) {
    try {
      return requireFrom(`${process.cwd()}/`)('koffi');
    } catch {
      throw error;
    }
  }
}
