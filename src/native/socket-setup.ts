/**
 * The steps that make a NativeSocket (socket.ts) before it issues any operation: checking the
 * port and the options, WSASocketW with WSA_FLAG_OVERLAPPED, a sockaddr_in in native memory for
 * bind/connect/getsockname, and the association with the port under a completion key —
 * CreateIoCompletionPort(socket, port, key, 0), the echo server's "per-handle data"
 * (docs/background.md). Apart from socket.ts, which keeps the operations and their per-I/O
 * blocks: these run once per socket (or per getsockname), and a Winsock failure in them is an
 * Error with `winsockError`, thrown in the caller's turn — not a packet.
 */
import { checkInteger, describe } from '../port/validate.js';
import { NativeCompletionPort, type PortInternals } from './native-port.js';
import { encodeNumber } from './values.js';
import type { Win32 } from './win32.js';
import { AF_INET, INVALID_SOCKET, IPPROTO_TCP, SOCK_STREAM, WSA_FLAG_OVERLAPPED, type Winsock } from './winsock.js';

export function checkPort(port: unknown): NativeCompletionPort {
  if (!(port instanceof NativeCompletionPort)) {
    throw new TypeError(`port must be a native completion port (backend 'native'), got ${describe(port)}`);
  }
  return port;
}

export function winsockError(call: string, ws: Winsock): Error & { winsockError: number } {
  const code = ws.WSAGetLastError();
  return Object.assign(new Error(`${call} failed: Winsock error ${code}`), { winsockError: code });
}

/** WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED): a socket whose I/O can complete on a port. */
export function newSocket(ws: Winsock): bigint {
  const s = ws.WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, 0n, 0, WSA_FLAG_OVERLAPPED);
  if (s === INVALID_SOCKET) throw winsockError('WSASocketW', ws);
  return s;
}

/** CreateIoCompletionPort(socket, port, key, 0), inside the port's closed check so a closed port's handle is never used. */
export function associate(p: PortInternals, s: bigint, key: number): void {
  p.enter();
  try {
    if (p.w.CreateIoCompletionPort(s, p.port, encodeNumber(key), 0) === 0n) {
      throw new Error(`CreateIoCompletionPort(socket, port) failed: Win32 error ${p.w.GetLastError()}`);
    }
  } finally {
    p.leave();
  }
}

/** A 16-byte sockaddr_in in native memory for bind/connect/getsockname (+ an int at 16 for the length). */
export function withSockaddr<T>(w: Win32, fn: (address: bigint, view: DataView) => T): T {
  const address = w.HeapAlloc(w.processHeap, 8, 32n);
  if (address === 0n) throw new RangeError('HeapAlloc for a sockaddr_in failed');
  try {
    return fn(address, new DataView(w.view(address, 32)));
  } finally {
    w.HeapFree(w.processHeap, 0, address);
  }
}

export function checkHostPort(o: Record<string, unknown>, defaultHost: string, portRequired: boolean): { host: string; port: number } {
  const host = o.host === undefined ? defaultHost : o.host;
  if (typeof host !== 'string') throw new TypeError(`options.host must be a string, got ${describe(host)}`);
  if (o.port === undefined && portRequired) throw new TypeError('options.port is required');
  const port = o.port === undefined ? 0 : checkInteger('options.port', o.port, 0, 65535);
  return { host, port };
}
