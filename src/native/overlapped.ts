/**
 * Per-I/O data: one native block per overlapped operation, allocated with
 * HeapAlloc (so it never moves and any thread may free it), laid out as
 *
 *   0   OVERLAPPED          Internal, InternalHigh, Offset, OffsetHigh, hEvent (32 bytes)
 *   32  u32 magic           BLOCK_MAGIC while the block is live, 0 once freed
 *   36  u32 operation       OP_READ | OP_WRITE | OP_ACCEPT | OP_RECV | OP_SEND
 *   40  f64 id              the operation's identity, reported as packet.overlapped
 *   48  u32 error           a Win32 error the library recorded itself (an immediate failure it posted)
 *   52  u32 length          bytes of buffer
 *   56  u64 port            the port's handle, for sanity checks
 *   64  WSABUF              sockets: { u32 len; u32 pad; u64 buf } describing the buffer (WSARecv/WSASend)
 *   80  u32 flags           sockets: WSARecv's lpFlags (in/out, so it must outlive the call)
 *   84  u32 bytes           sockets: AcceptEx's lpdwBytesReceived (written only on synchronous completion)
 *   88  u64 socket          accept: the SOCKET AcceptEx accepts into
 *   96  u64 listener        accept: the listening SOCKET (setsockopt's SO_UPDATE_ACCEPT_CONTEXT value)
 *   104 (reserved, zero)
 *   128 buffer              the I/O buffer (length bytes)
 *
 * The OVERLAPPED is at offset 0, so the pointer the kernel hands back in a
 * completion packet is the block itself. The block is freed by whichever
 * thread dequeues its packet (get/getAsync/getMany/close), after the data is
 * copied out: the kernel never sees a freed OVERLAPPED, and no block outlives
 * its packet.
 */
import type { Win32 } from './win32.js';
import { HEAP_ZERO_MEMORY } from './win32.js';

export const BLOCK_HEADER = 128;
export const BLOCK_MAGIC = 0x504c564f; // 'OVLP'
export const OP_READ = 1;
export const OP_WRITE = 2;
export const OP_ACCEPT = 3;
export const OP_RECV = 4;
export const OP_SEND = 5;
const OP_NAMES: ReadonlyArray<IoCompletionPacket['operation'] | ''> = ['', 'read', 'write', 'accept', 'recv', 'send'];
/** Offsets of the socket fields (see the layout above). */
export const B_WSABUF = 64;
export const B_FLAGS = 80;
export const B_BYTES = 84;
export const B_SOCKET = 88;
export const B_LISTENER = 96;

/**
 * Per-operation work at completion that needs more than this module knows
 * (an accepted socket must be updated, or closed if the accept failed):
 * registered by the module that issues that operation (./socket.ts), run by
 * whichever thread dequeues the packet, before the block is freed.
 */
export type Finisher = (w: Win32, address: bigint, view: DataView, packet: IoCompletionPacket) => void;
const finishers: Array<Finisher | undefined> = [];

export function registerFinisher(op: number, finisher: Finisher): void {
  finishers[op] = finisher;
}

/** Canonical x64 user-mode addresses are below 2^47: only such values are ever treated as a block pointer. */
export const USER_ADDRESS_LIMIT = 1n << 47n;

/** A completion that came from an overlapped operation on an associated handle. */
export interface IoCompletionPacket {
  /** The bytes the operation moved. */
  bytesTransferred: number;
  /** The key of the handle the operation was issued on. */
  completionKey: number;
  /** The operation's identity (the id returned by read()/write()). */
  overlapped: number;
  /**
   * 0 on success, else the error: a Win32 code when the kernel completed the
   * operation with a failure (e.g. 38 ERROR_HANDLE_EOF, 64 ERROR_NETNAME_DELETED,
   * 995 ERROR_OPERATION_ABORTED), or the Winsock code of a socket call that
   * failed at once (e.g. 10057 WSAENOTCONN, 10058 WSAESHUTDOWN).
   */
  error: number;
  /** Which call the packet completes. */
  operation: 'read' | 'write' | 'accept' | 'recv' | 'send';
  /** For a read or recv: the bytes received (a copy; the native buffer is already freed). A recv of 0 bytes without error: the peer closed. */
  data?: Uint8Array;
  /** For a send that completed short: the bytes not sent (send them again, as the Winsock echo server's BytesSend < BytesRecv loop does). */
  unsent?: Uint8Array;
  /** For an accept that succeeded: the accepted SOCKET's value (decimal); wrap it with NativeSocket.accepted(). */
  socket?: string;
}

export function allocBlock(w: Win32, op: number, id: number, length: number, port: bigint): bigint {
  const address = w.HeapAlloc(w.processHeap, HEAP_ZERO_MEMORY, BigInt(BLOCK_HEADER + length));
  if (address === 0n) throw new RangeError(`HeapAlloc of ${BLOCK_HEADER + length} bytes for an OVERLAPPED failed`);
  const v = new DataView(w.view(address, BLOCK_HEADER));
  v.setUint32(32, BLOCK_MAGIC, true);
  v.setUint32(36, op, true);
  v.setFloat64(40, id, true);
  v.setUint32(52, length, true);
  v.setBigUint64(56, port, true);
  return address;
}

export function setOffset(w: Win32, address: bigint, offset: number): void {
  const v = new DataView(w.view(address, BLOCK_HEADER));
  v.setUint32(16, offset % 0x100000000, true);
  v.setUint32(20, Math.floor(offset / 0x100000000), true);
}

export function setBlockError(w: Win32, address: bigint, error: number): void {
  new DataView(w.view(address, BLOCK_HEADER)).setUint32(48, error, true);
}

export function freeBlock(w: Win32, address: bigint): void {
  new DataView(w.view(address, BLOCK_HEADER)).setUint32(32, 0, true);
  w.HeapFree(w.processHeap, 0, address);
}

/**
 * Reads the completion of the block at `address`, frees the block, and
 * returns the packet. `error` is what GQCS reported (GetLastError when it
 * returned FALSE with this OVERLAPPED); an error the library recorded itself
 * when it posted an immediate failure wins over a zero.
 */
export function completeBlock(w: Win32, address: bigint, bytesTransferred: number, completionKey: number, error: number): IoCompletionPacket {
  const v = new DataView(w.view(address, BLOCK_HEADER));
  const magic = v.getUint32(32, true);
  if (magic !== BLOCK_MAGIC) {
    throw new Error(`completion packet carries OVERLAPPED 0x${address.toString(16)} that is not a live iocp-pool I/O block`);
  }
  const op = v.getUint32(36, true);
  const id = v.getFloat64(40, true);
  const recorded = v.getUint32(48, true);
  const length = v.getUint32(52, true);
  if (error === 0) {
    if (recorded !== 0) error = recorded;
    else {
      const status = Number(v.getBigUint64(0, true) & 0xffffffffn);
      // STATUS_PENDING (0x103) never reaches a dequeued packet; any other non-zero status is a failure.
      if (status !== 0 && status !== 0x103) error = w.RtlNtStatusToDosError(status | 0);
    }
  }
  const packet: IoCompletionPacket = {
    bytesTransferred,
    completionKey,
    overlapped: id,
    error,
    operation: OP_NAMES[op] || 'read',
  };
  if (op === OP_READ || op === OP_RECV) {
    const n = Math.min(bytesTransferred, length);
    packet.data = n === 0 ? new Uint8Array(0) : new Uint8Array(w.view(address + BigInt(BLOCK_HEADER), n)).slice();
  } else if (op === OP_SEND && bytesTransferred < length) {
    packet.unsent = new Uint8Array(w.view(address + BigInt(BLOCK_HEADER + bytesTransferred), length - bytesTransferred)).slice();
  }
  try {
    finishers[op]?.(w, address, v, packet);
  } finally {
    freeBlock(w, address);
  }
  return packet;
}
