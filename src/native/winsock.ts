/**
 * The Winsock surface (ws2_32.dll) the native sockets call, bound through
 * koffi. Like ./win32.ts: loaded once per thread (koffi is a per-isolate
 * addon), on first use, never at import time; every SOCKET and pointer
 * crosses the FFI as a uint64 (BigInt); memory Winsock writes into is
 * HeapAlloc'd, never a movable JS buffer.
 *
 * WSAStartup runs once per thread that loads this module (Winsock counts the
 * calls; one per process would do). WSACleanup is never called: sockets may
 * live as long as the process, and the process exit cleans up.
 *
 * AcceptEx is not a ws2_32 export: Winsock hands out its address per
 * provider through WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, WSAID_ACCEPTEX)
 * on a socket of that provider (TCP/IPv4 here), and it is called through that
 * pointer (koffi.decode with its prototype).
 */
import { big, HEAP_ZERO_MEMORY, win32, type Win32 } from './win32.js';

type Fn<A extends unknown[], R> = (...args: A) => R;

export interface Winsock {
  w: Win32;
  WSASocketW: Fn<[number, number, number, bigint, number, number], bigint>;
  bind: Fn<[bigint, bigint, number], number>;
  listen: Fn<[bigint, number], number>;
  getsockname: Fn<[bigint, bigint, bigint], number>;
  connect: Fn<[bigint, bigint, number], number>;
  setsockopt: Fn<[bigint, number, number, bigint, number], number>;
  WSAIoctl: Fn<[bigint, number, bigint, number, bigint, number, bigint, bigint, bigint], number>;
  WSARecv: Fn<[bigint, bigint, number, bigint, bigint, bigint, bigint], number>;
  WSASend: Fn<[bigint, bigint, number, bigint, number, bigint, bigint], number>;
  closesocket: Fn<[bigint], number>;
  shutdown: Fn<[bigint, number], number>;
  WSAGetLastError: Fn<[], number>;
  /** AcceptEx, through the pointer WSAIoctl returns (looked up once, with the first socket that needs it). */
  acceptEx(anySocket: bigint): Fn<[bigint, bigint, bigint, number, number, number, bigint, bigint], number>;
}

// Winsock constants used by the sockets.
export const AF_INET = 2;
export const SOCK_STREAM = 1;
export const IPPROTO_TCP = 6;
export const WSA_FLAG_OVERLAPPED = 0x01;
export const INVALID_SOCKET = 0xffffffffffffffffn;
export const SOCKET_ERROR = -1;
/** WSA_IO_PENDING = ERROR_IO_PENDING: the overlapped operation was queued; its packet will come. */
export const WSA_IO_PENDING = 997;
export const SOL_SOCKET = 0xffff;
/** setsockopt on an AcceptEx socket, with the listening SOCKET as value: makes getpeername/shutdown work on it. */
export const SO_UPDATE_ACCEPT_CONTEXT = 0x700b;
export const SD_RECEIVE = 0;
export const SD_SEND = 1;
export const SD_BOTH = 2;
/** _WSAIORW(IOC_WS2, 6) */
const SIO_GET_EXTENSION_FUNCTION_POINTER = 0xc8000006;
/** WSAID_ACCEPTEX {b5367df1-cbac-11cf-95ca-00805f48a192}, as the 16 bytes of a GUID (Data1..3 little-endian). */
const WSAID_ACCEPTEX = [0xf1, 0x7d, 0x36, 0xb5, 0xac, 0xcb, 0xcf, 0x11, 0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92];
/** sizeof(WSADATA) on 64-bit Windows: 4 × u16, a pointer, szDescription[257], szSystemStatus[129], padded to 8. */
const WSADATA_SIZE = 408;

let cached: Winsock | undefined;

/** Binds ws2_32 (after win32(), which says why the native backend cannot load, if it cannot) and runs WSAStartup(2.2). */
export function winsock(): Winsock {
  if (cached !== undefined) return cached;
  const w = win32();
  const koffi = w.koffi;
  const ws2 = koffi.load('ws2_32.dll');
  const f = (decl: string) => ws2.func(decl);
  const SOCKET = 'uint64_t';
  const WSAStartup = f('int __stdcall WSAStartup(uint16_t version, uint64_t data)');
  const data = w.HeapAlloc(w.processHeap, HEAP_ZERO_MEMORY, BigInt(WSADATA_SIZE));
  if (data === 0n) throw new RangeError('HeapAlloc for WSADATA failed');
  try {
    const rc = WSAStartup(0x0202, data);
    if (rc !== 0) throw new Error(`WSAStartup(2.2) failed: Winsock error ${rc}`);
  } finally {
    w.HeapFree(w.processHeap, 0, data);
  }
  let acceptEx: ReturnType<Winsock['acceptEx']> | undefined;
  const ws: Winsock = {
    w,
    WSASocketW: big(f(`${SOCKET} __stdcall WSASocketW(int af, int type, int protocol, uint64_t info, uint32_t g, uint32_t flags)`)),
    bind: f(`int __stdcall bind(${SOCKET} s, uint64_t name, int namelen)`),
    listen: f(`int __stdcall listen(${SOCKET} s, int backlog)`),
    getsockname: f(`int __stdcall getsockname(${SOCKET} s, uint64_t name, uint64_t pNamelen)`),
    connect: f(`int __stdcall connect(${SOCKET} s, uint64_t name, int namelen)`),
    setsockopt: f(`int __stdcall setsockopt(${SOCKET} s, int level, int optname, uint64_t optval, int optlen)`),
    WSAIoctl: f(
      `int __stdcall WSAIoctl(${SOCKET} s, uint32_t code, uint64_t inBuf, uint32_t inLen, uint64_t outBuf, uint32_t outLen, uint64_t pBytes, uint64_t overlapped, uint64_t routine)`,
    ),
    WSARecv: f(
      `int __stdcall WSARecv(${SOCKET} s, uint64_t buffers, uint32_t count, uint64_t pBytes, uint64_t pFlags, uint64_t overlapped, uint64_t routine)`,
    ),
    WSASend: f(
      `int __stdcall WSASend(${SOCKET} s, uint64_t buffers, uint32_t count, uint64_t pBytes, uint32_t flags, uint64_t overlapped, uint64_t routine)`,
    ),
    closesocket: f(`int __stdcall closesocket(${SOCKET} s)`),
    shutdown: f(`int __stdcall shutdown(${SOCKET} s, int how)`),
    WSAGetLastError: f('int __stdcall WSAGetLastError()'),
    acceptEx(anySocket) {
      if (acceptEx !== undefined) return acceptEx;
      // In: the GUID (16 bytes at 0). Out: the function pointer (8 bytes at 16). Bytes returned: u32 at 24.
      const mem = w.HeapAlloc(w.processHeap, HEAP_ZERO_MEMORY, 32n);
      if (mem === 0n) throw new RangeError('HeapAlloc for the AcceptEx lookup failed');
      try {
        new Uint8Array(w.view(mem, 16)).set(WSAID_ACCEPTEX);
        if (ws.WSAIoctl(anySocket, SIO_GET_EXTENSION_FUNCTION_POINTER, mem, 16, mem + 16n, 8, mem + 24n, 0n, 0n) !== 0) {
          throw new Error(`WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, WSAID_ACCEPTEX) failed: Winsock error ${ws.WSAGetLastError()}`);
        }
        const pointer = new BigUint64Array(w.view(mem + 16n, 8))[0]!;
        if (pointer === 0n) throw new Error('WSAIoctl returned a null AcceptEx');
        const proto = koffi.proto(
          `int __stdcall iocp_pool_AcceptEx(${SOCKET} listen, ${SOCKET} accept, uint64_t buffer, uint32_t recvLength, uint32_t localLength, uint32_t remoteLength, uint64_t pBytes, uint64_t overlapped)`,
        );
        acceptEx = koffi.decode(pointer, proto) as ReturnType<Winsock['acceptEx']>;
        return acceptEx;
      } finally {
        w.HeapFree(w.processHeap, 0, mem);
      }
    },
  };
  cached = ws;
  return ws;
}

/**
 * sockaddr_in (16 bytes): sin_family u16 (AF_INET), sin_port u16 in network
 * order, sin_addr 4 bytes in network order, sin_zero[8]. IPv4 dotted quads
 * only: there is no name resolution here.
 */
export function writeSockaddrIn(view: DataView, host: string, port: number): void {
  const parts = parseIPv4(host);
  view.setUint16(0, AF_INET, true);
  view.setUint16(2, port, false);
  for (let i = 0; i < 4; i++) view.setUint8(4 + i, parts[i]!);
  for (let i = 8; i < 16; i++) view.setUint8(i, 0);
}

export function readSockaddrPort(view: DataView): number {
  return view.getUint16(2, false);
}

/** '127.0.0.1' → [127, 0, 0, 1]; anything else throws a RangeError. */
export function parseIPv4(host: string): number[] {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  const parts = m ? m.slice(1).map(Number) : [];
  if (parts.length !== 4 || parts.some((n) => n > 255)) {
    throw new RangeError(`host must be an IPv4 address in dotted-quad form (e.g. '127.0.0.1'), got ${JSON.stringify(host)}`);
  }
  return parts;
}
