/**
 * Overlapped TCP sockets on a native port: the machinery of the Winsock echo
 * server in the original articles (docs/background.md). A socket is created
 * with WSA_FLAG_OVERLAPPED and associated with the port under a completion
 * key — CreateIoCompletionPort(socket, port, key, 0), the server's "per-handle
 * data" — and its AcceptEx, WSARecv and WSASend complete as packets on the
 * port, dequeued by any thread that holds it.
 *
 * Per-I/O data follows NativeFile's rules (./overlapped.ts): each operation
 * gets one HeapAlloc'd block — OVERLAPPED, WSABUF, flags, buffer — that never
 * moves and stays alive until its packet is dequeued, where the library
 * copies the data out and frees it. An operation that fails at once (the
 * call returns SOCKET_ERROR / FALSE with anything but WSA_IO_PENDING) queues
 * no kernel packet, so the library posts one with the Winsock error: a
 * failure always arrives as a packet.
 *
 * The default completion mode is kept (no SetFileCompletionNotificationModes):
 * an operation that succeeds at once still queues its packet, so every
 * operation has exactly one packet.
 *
 * Threads: a SOCKET value is valid in the whole process. `socket.handle`
 * ({ socket, key }) is structured-cloneable, and NativeSocket.from(port,
 * handle) in another thread issues operations on the same socket (it is
 * associated once, by whoever created or accepted it). Close a socket from
 * the thread that owns the connection's state, as the echo server does: after
 * closesocket, Windows may give the same value to the next socket.
 *
 * Making a socket (WSASocketW, bind/connect, the association) is socket-setup.ts's.
 */
import { checkFinite, checkInteger, checkOptions, describe } from '../port/validate.js';
import { N_IO_PENDING } from './ledger.js';
import { internalsOf, type NativeCompletionPort, type PortInternals } from './native-port.js';
import { associate, checkHostPort, checkPort, newSocket, winsockError, withSockaddr } from './socket-setup.js';
import { encodeNumber } from './values.js';
import {
  allocBlock,
  B_FLAGS,
  B_LISTENER,
  B_SOCKET,
  B_WSABUF,
  B_BYTES,
  BLOCK_HEADER,
  freeBlock,
  type IoCompletionPacket,
  OP_ACCEPT,
  OP_RECV,
  OP_SEND,
  registerFinisher,
  setBlockError,
} from './overlapped.js';
import {
  readSockaddrPort,
  SD_BOTH,
  SD_RECEIVE,
  SD_SEND,
  SO_UPDATE_ACCEPT_CONTEXT,
  SOCKET_ERROR,
  SOL_SOCKET,
  WSA_IO_PENDING,
  type Winsock,
  winsock,
  writeSockaddrIn,
} from './winsock.js';

/** AcceptEx's address space per side: sizeof(sockaddr_in) + 16, as its documentation requires. */
const ACCEPT_ADDRESS_LENGTH = 16 + 16;
const SOMAXCONN = 0x7fffffff;

/** What every NativeSocket constructor takes. */
export interface SocketOptions {
  /** The completion key this socket's packets carry (per-handle data). Default 0. */
  key?: number;
}

/** The options of `NativeSocket.listen(port, options)`. */
export interface ListenOptions extends SocketOptions {
  /** IPv4 address to bind, dotted quad. Default '0.0.0.0' (INADDR_ANY). */
  host?: string;
  /** TCP port; 0 (default) lets the system choose (see localPort). */
  port?: number;
  /** listen() backlog. Default SOMAXCONN. */
  backlog?: number;
}

/** The options of `NativeSocket.connect(port, options)`. */
export interface ConnectOptions extends SocketOptions {
  /** IPv4 address, dotted quad. Default '127.0.0.1'. */
  host?: string;
  /** The TCP port to connect to. */
  port: number;
}

/** `socket.handle`: structured-cloneable, valid in this process only. */
export interface NativeSocketHandle {
  /** The SOCKET value, decimal. */
  readonly socket: string;
  /** The completion key the socket's packets carry. */
  readonly key: number;
}

// At completion of an accept, on the dequeuing thread: make the new socket a
// full socket (SO_UPDATE_ACCEPT_CONTEXT), or close it if the accept failed,
// so a failed accept never leaks the socket it was accepting into.
registerFinisher(OP_ACCEPT, (_w, address, view, packet) => {
  const accepted = view.getBigUint64(B_SOCKET, true);
  if (accepted === 0n) return;
  const ws = winsock();
  if (packet.error === 0) {
    // optval points at the block's copy of the listening SOCKET (B_LISTENER).
    if (ws.setsockopt(accepted, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, address + BigInt(B_LISTENER), 8) !== 0) {
      packet.error = ws.WSAGetLastError();
    }
  }
  if (packet.error === 0) packet.socket = accepted.toString();
  else ws.closesocket(accepted);
});

/**
 * An overlapped TCP socket (IPv4, Winsock) associated with a native port under a completion key:
 * its AcceptEx, WSARecv and WSASend complete as packets on the port. Windows only. Guide:
 * docs/native.md.
 */
export class NativeSocket {
  /** The completion key its packets carry. */
  readonly key: number;
  readonly #port: NativeCompletionPort;
  readonly #p: PortInternals;
  readonly #ws: Winsock;
  #socket: bigint;

  private constructor(port: NativeCompletionPort, p: PortInternals, ws: Winsock, socket: bigint, key: number) {
    this.#port = port;
    this.#p = p;
    this.#ws = ws;
    this.#socket = socket;
    this.key = key;
  }

  /** WSASocketW + bind + listen, associated with `port` under `options.key`; accept() then posts AcceptEx. */
  static listen(port: unknown, options?: ListenOptions): NativeSocket {
    const np = checkPort(port);
    const o = checkOptions('options', options);
    const key = o.key === undefined ? 0 : checkFinite('options.key', o.key);
    const { host, port: tcpPort } = checkHostPort(o, '0.0.0.0', false);
    const backlog = o.backlog === undefined ? SOMAXCONN : checkInteger('options.backlog', o.backlog, 1, SOMAXCONN);
    const p = internalsOf(np);
    const ws = winsock();
    const s = newSocket(ws);
    try {
      withSockaddr(p.w, (address, view) => {
        writeSockaddrIn(view, host, tcpPort);
        if (ws.bind(s, address, 16) === SOCKET_ERROR) throw winsockError(`bind(${host}:${tcpPort})`, ws);
      });
      if (ws.listen(s, backlog) === SOCKET_ERROR) throw winsockError('listen', ws);
      associate(p, s, key);
    } catch (error) {
      ws.closesocket(s);
      throw error;
    }
    return new NativeSocket(np, p, ws, s, key);
  }

  /**
   * WSASocketW + connect (a blocking connect: on loopback it returns at once)
   * + association under `options.key`. Throws with `winsockError` (e.g. 10061
   * WSAECONNREFUSED) if the connection fails.
   */
  static connect(port: unknown, options: ConnectOptions): NativeSocket {
    const np = checkPort(port);
    const o = checkOptions('options', options);
    const key = o.key === undefined ? 0 : checkFinite('options.key', o.key);
    const { host, port: tcpPort } = checkHostPort(o, '127.0.0.1', true);
    const p = internalsOf(np);
    const ws = winsock();
    const s = newSocket(ws);
    try {
      withSockaddr(p.w, (address, view) => {
        writeSockaddrIn(view, host, tcpPort);
        if (ws.connect(s, address, 16) === SOCKET_ERROR) throw winsockError(`connect(${host}:${tcpPort})`, ws);
      });
      associate(p, s, key);
    } catch (error) {
      ws.closesocket(s);
      throw error;
    }
    return new NativeSocket(np, p, ws, s, key);
  }

  /** The socket an accept packet carries (packet.socket), associated with `port` under `options.key`. */
  static accepted(port: unknown, packet: IoCompletionPacket, options?: SocketOptions): NativeSocket {
    const np = checkPort(port);
    if (packet === null || typeof packet !== 'object' || packet.operation !== 'accept') {
      throw new TypeError(`packet must be an accept completion packet, got ${describe(packet)}`);
    }
    if (typeof packet.socket !== 'string') {
      throw new TypeError(`packet carries no socket: the accept failed with error ${packet.error}`);
    }
    const o = checkOptions('options', options);
    const key = o.key === undefined ? 0 : checkFinite('options.key', o.key);
    const p = internalsOf(np);
    const ws = winsock();
    const s = BigInt(packet.socket);
    try {
      associate(p, s, key);
    } catch (error) {
      ws.closesocket(s); // the packet handed the socket over: nobody else will close it
      throw error;
    }
    return new NativeSocket(np, p, ws, s, key);
  }

  /** Attaches to a socket from its handle in another thread of this process (it is already associated with the port). */
  static from(port: unknown, handle: NativeSocketHandle): NativeSocket {
    const np = checkPort(port);
    const h = handle as Partial<NativeSocketHandle> | null;
    if (h === null || typeof h !== 'object' || typeof h.socket !== 'string' || !/^[1-9][0-9]{0,19}$/.test(h.socket)) {
      throw new TypeError(`handle must be a socket handle (socket.handle), got ${describe(handle)}`);
    }
    const key = h.key === undefined ? 0 : checkFinite('handle.key', h.key);
    return new NativeSocket(np, internalsOf(np), winsock(), BigInt(h.socket), key);
  }

  /** Structured-cloneable: `NativeSocket.from(port, handle)` in another thread of this process. */
  get handle(): NativeSocketHandle {
    return Object.freeze({ socket: this.#socket.toString(), key: this.key });
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#socket === 0n;
  }

  /** The local TCP port (getsockname): what listen({ port: 0 }) was given. */
  get localPort(): number {
    const s = this.#open();
    const { w } = this.#p;
    return withSockaddr(w, (address, view) => {
      view.setInt32(16, 16, true);
      if (this.#ws.getsockname(s, address, address + 16n) === SOCKET_ERROR) throw winsockError('getsockname', this.#ws);
      return readSockaddrPort(view);
    });
  }

  /**
   * Posts an AcceptEx on this listening socket (into a fresh overlapped
   * socket). Its packet carries this socket's key, `operation: 'accept'` and,
   * on success, `socket`: wrap it with NativeSocket.accepted(port, packet, { key }).
   * If the accept fails (e.g. the listener is closed), the library closes the
   * socket it was accepting into.
   */
  accept(id?: number): number {
    return this.#issue(OP_ACCEPT, 2 * ACCEPT_ADDRESS_LENGTH, undefined, id);
  }

  /** Posts a WSARecv of up to `length` bytes. Its packet has `data`; 0 bytes without error means the peer closed. */
  recv(length: number, id?: number): number {
    checkInteger('length', length, 1, 0x7fffffff - BLOCK_HEADER);
    return this.#issue(OP_RECV, length, undefined, id);
  }

  /** Posts a WSASend of `data` (copied into the operation's block). A short completion's packet carries `unsent`. */
  send(data: Uint8Array | string, id?: number): number {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`data must be a Uint8Array or a string, got ${describe(data)}`);
    return this.#issue(OP_SEND, bytes.length, bytes, id);
  }

  /** shutdown(): 'send' (default, SD_SEND: the peer's recv completes with 0 bytes), 'receive' or 'both'. */
  shutdown(how: 'send' | 'receive' | 'both' = 'send'): void {
    const code = how === 'send' ? SD_SEND : how === 'receive' ? SD_RECEIVE : how === 'both' ? SD_BOTH : -1;
    if (code < 0) throw new RangeError(`how must be 'send', 'receive' or 'both', got ${describe(how)}`);
    if (this.#ws.shutdown(this.#open(), code) === SOCKET_ERROR) throw winsockError('shutdown', this.#ws);
  }

  /** Cancels this socket's pending operations (CancelIoEx): their packets still arrive, aborted. */
  cancel(): void {
    if (this.#socket !== 0n) this.#p.w.CancelIoEx(this.#socket, 0n);
  }

  /** closesocket. Pending operations complete aborted and still arrive as packets (their blocks are freed there). */
  close(): void {
    const s = this.#socket;
    if (s === 0n) return;
    this.#socket = 0n;
    this.#ws.closesocket(s);
  }

  #open(): bigint {
    if (this.#socket === 0n) throw new Error('the socket is closed');
    return this.#socket;
  }

  #issue(op: number, length: number, data: Uint8Array | undefined, id: number | undefined): number {
    const s = this.#open();
    const opId = id === undefined ? this.#port.nextId() : checkFinite('id', id);
    const { w, port, i32 } = this.#p;
    const ws = this.#ws;
    // AcceptEx's socket is made before entering: a failure here allocates nothing.
    const acceptInto = op === OP_ACCEPT ? newSocket(ws) : 0n;
    let acceptEx: ReturnType<Winsock['acceptEx']> | undefined;
    try {
      if (op === OP_ACCEPT) acceptEx = ws.acceptEx(s);
      this.#p.enter();
    } catch (error) {
      if (acceptInto !== 0n) ws.closesocket(acceptInto);
      throw error;
    }
    try {
      let block: bigint;
      try {
        block = allocBlock(w, op, opId, length, port);
      } catch (error) {
        if (acceptInto !== 0n) ws.closesocket(acceptInto);
        throw error;
      }
      const buffer = block + BigInt(BLOCK_HEADER);
      const v = new DataView(w.view(block, BLOCK_HEADER));
      v.setUint32(B_WSABUF, length, true);
      v.setBigUint64(B_WSABUF + 8, buffer, true);
      if (data !== undefined && length > 0) new Uint8Array(w.view(buffer, length)).set(data);
      if (op === OP_ACCEPT) {
        // Recorded before the call: from now on the block owns the socket (the finisher wraps or closes it).
        v.setBigUint64(B_SOCKET, acceptInto, true);
        v.setBigUint64(B_LISTENER, s, true);
      }
      // Counted before the call: the packet may be dequeued by another thread before the call returns.
      Atomics.add(i32, N_IO_PENDING, 1);
      let failed: boolean;
      if (op === OP_RECV) failed = ws.WSARecv(s, block + BigInt(B_WSABUF), 1, 0n, block + BigInt(B_FLAGS), block, 0n) === SOCKET_ERROR;
      else if (op === OP_SEND) failed = ws.WSASend(s, block + BigInt(B_WSABUF), 1, 0n, 0, block, 0n) === SOCKET_ERROR;
      else {
        // No data is received with the connection (recvLength 0): the accept completes as soon as a client connects.
        failed = !acceptEx!(s, acceptInto, buffer, 0, ACCEPT_ADDRESS_LENGTH, ACCEPT_ADDRESS_LENGTH, block + BigInt(B_BYTES), block);
      }
      if (failed) {
        const error = ws.WSAGetLastError();
        if (error !== WSA_IO_PENDING) {
          // No packet will come from the kernel: deliver the failure as one ourselves.
          setBlockError(w, block, error);
          if (!w.PostQueuedCompletionStatus(port, 0, encodeNumber(this.key), block)) {
            Atomics.sub(i32, N_IO_PENDING, 1);
            if (acceptInto !== 0n) ws.closesocket(acceptInto);
            freeBlock(w, block);
            throw new Error(`socket operation failed with Winsock error ${error}, and posting its packet failed`);
          }
        }
      }
      return opId;
    } finally {
      this.#p.leave();
    }
  }
}
