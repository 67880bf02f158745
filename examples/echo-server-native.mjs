// The Winsock echo server on port 5150 from the original articles (articles 3
// and 5 of docs/background.md) on the real Win32 I/O completion port: Windows
// only (backend 'native', koffi).
//
//   npm run build && node examples/echo-server-native.mjs [port]     (or ECHO_PORT=…; 0 = any free port)
//
// Here the kernel does the I/O, as in the original: sockets are Winsock sockets
// (NativeSocket), associated with the port under a completion key, and
// worker threads block in GetQueuedCompletionStatus (port.get() on
// CompletionPort.from(handle)) and issue WSASend / WSARecv themselves.
//
//   original (C, Winsock)                            here
//   ───────────────────────────────────────────────  ─────────────────────────────────────────────
//   1 WSAStartup                                     done by the library with the first socket
//   2 CreateIoCompletionPort(INVALID_HANDLE_VALUE,   new CompletionPort({ backend: 'native', concurrency: 0 })
//       NULL, 0, 0)
//   3 2 × processors × CreateThread(ServerWorker-    2 × cores Workers running this file, each
//       Thread, CompletionPort)                          attaching with CompletionPort.from(handle)
//   4 WSASocket(WSA_FLAG_OVERLAPPED), bind, listen   NativeSocket.listen(port, { port: 5150 })
//   5 WSAAccept loop on the main thread              AcceptEx, which the chapter's last section
//                                                        recommends: the accept completes on the port
//                                                        like any I/O, and the worker that gets it
//                                                        does steps 6–8 and posts the next AcceptEx
//   6 PER_HANDLE_DATA { Socket } +                   the completion key IS the socket value: the
//       CreateIoCompletionPort(Accept, port, key, 0)     worker finds the socket from the key
//                                                        (NativeSocket.accepted(port, packet, { key }))
//   7 PER_IO_OPERATION_DATA { OVERLAPPED, WSABUF,    the library's per-I/O block: OVERLAPPED, WSABUF,
//       Buffer[8192], BytesSEND, BytesRECV }             buffer; freed when its packet is dequeued
//   8 WSARecv(Accept, 8192 bytes)                    socket.recv(DATA_BUFSIZE)
//   9 worker: GetQueuedCompletionStatus(INFINITE)    port.get()
//  10   BytesTransferred == 0 → closesocket          socket.close()
//  11   BytesRecv > BytesSend → WSASend the rest     a send packet with `unsent` → socket.send(unsent)
//  12   else → WSARecv again                         socket.recv(DATA_BUFSIZE)
//      (the original never shuts down)               close(): listener closed, connections cancelled
//                                                        (CancelIoEx) and closed by their workers, then
//                                                        one sentinel packet per worker
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import { CompletionPort, NativeSocket } from 'iocp-pool/native';

const PORT = 5150;
const DATA_BUFSIZE = 8192;
const SENTINEL = -1; // overlapped of the shutdown packet
const LISTEN_KEY = 0; // the listener's completion key (a socket value is never 0)
const MAX_CONNECTIONS = 1024;
// Shared words (Int32) next to the table of open sockets.
const W_CLOSING = 0; // 1 once close() began: workers close connections instead of issuing more I/O
const W_ACCEPTS = 1; // AcceptEx operations posted whose packet has not been fully handled yet

if (!isMainThread && workerData?.echoServerNative) serverWorkerThread(workerData);

/** Starts the server. `port` 0 picks a free port; `threads` defaults to the original's 2 × processors. Resolves with { port, close() }. */
export async function startNativeEchoServer({ port = PORT, host = '0.0.0.0', threads = 2 * availableParallelism(), accepts = 2 } = {}) {
  // Step 2: the completion port (concurrency 0 = the number of processors, as the original's 0).
  const iocp = new CompletionPort({ backend: 'native', concurrency: 0 });
  // Step 4: the listening socket, associated with the port under LISTEN_KEY.
  const listener = NativeSocket.listen(iocp, { host, port, key: LISTEN_KEY });
  // Open connections, so close() can find them: SOCKET values, 0 = free entry.
  const words = new SharedArrayBuffer(8);
  const table = new SharedArrayBuffer(MAX_CONNECTIONS * 8);
  const shared = { echoServerNative: true, handle: iocp.handle, listener: listener.handle, words, table };

  // Step 3: the worker threads, each blocking in GetQueuedCompletionStatus.
  const workers = [];
  for (let i = 0; i < threads; i++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: shared });
    worker.on('error', (error) => console.error('echo-server-native worker failed:', error));
    workers.push(worker);
  }

  // Step 5: AcceptEx on the listener; each accept's packet goes to a worker, which posts the next one.
  const w = new Int32Array(words);
  for (let i = 0; i < accepts; i++) {
    Atomics.add(w, W_ACCEPTS, 1);
    listener.accept();
  }

  let closing;
  return {
    port: listener.localPort,
    connections: () => openSockets(table).length,
    /** Stops accepting, has every open connection cancelled and closed by its workers, then one sentinel per worker. */
    close() {
      closing ??= (async () => {
        Atomics.store(w, W_CLOSING, 1);
        listener.close(); // pending AcceptEx complete aborted; workers post no new ones
        await until(() => Atomics.load(w, W_ACCEPTS) === 0, 'accept packets handled');
        // CancelIoEx on each open socket: its pending WSARecv/WSASend completes aborted, and the worker
        // that gets the packet closes it (step 10). Repeated until none is left: a worker may have
        // issued its next operation just before it saw W_CLOSING.
        await until(() => {
          const open = openSockets(table);
          for (const socket of open) NativeSocket.from(iocp, { socket: String(socket), key: Number(socket) }).cancel();
          return open.length === 0;
        }, 'connections closed');
        const exits = workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve)));
        for (let i = 0; i < workers.length; i++) iocp.post(0, 0, SENTINEL);
        const workerExitCodes = await Promise.all(exits);
        const pendingIo = iocp.pendingIo();
        const left = iocp.close();
        return { workerExitCodes, packetsLeft: left.length, pendingIo };
      })();
      return closing;
    },
  };
}

/** Step 3's ServerWorkerThread. */
function serverWorkerThread({ handle, listener: listenerHandle, words, table }) {
  const iocp = CompletionPort.from(handle);
  const listener = NativeSocket.from(iocp, listenerHandle);
  const w = new Int32Array(words);
  const closing = () => Atomics.load(w, W_CLOSING) !== 0;

  const closesocket = (socket) => {
    socket.close();
    forget(table, socket.key);
  };

  for (;;) {
    // Step 9: GetQueuedCompletionStatus(port, &BytesTransferred, &PerHandleData, &PerIoData, INFINITE).
    const packet = iocp.get();
    const { bytesTransferred, completionKey: key, overlapped, operation, error } = packet;
    if (overlapped === SENTINEL) {
      iocp.detach();
      return;
    }

    if (operation === 'accept') {
      // Steps 6–8 for the new connection: per-handle data (the key is the socket value),
      // association with the port, the first WSARecv. Then the next AcceptEx.
      if (error === 0) {
        const socket = NativeSocket.accepted(iocp, packet, { key: Number(packet.socket) });
        remember(table, socket.key);
        if (closing()) closesocket(socket);
        else socket.recv(DATA_BUFSIZE);
      }
      if (error === 0 && !closing()) {
        Atomics.add(w, W_ACCEPTS, 1);
        listener.accept();
      }
      Atomics.sub(w, W_ACCEPTS, 1); // this accept's packet is handled
      continue;
    }

    // The per-handle data, from the completion key: the socket it names.
    const socket = NativeSocket.from(iocp, { socket: String(key), key });

    // Step 10: zero bytes (the peer closed) — or a failure, or shutting down — close the socket.
    if (error !== 0 || (operation === 'recv' && bytesTransferred === 0) || closing()) {
      closesocket(socket);
      continue;
    }

    if (operation === 'recv') {
      // A WSARecv completed: echo what it received.
      socket.send(packet.data);
    } else if (packet.unsent !== undefined) {
      // Step 11: the WSASend sent less than asked (BytesRecv > BytesSend): send the rest.
      socket.send(packet.unsent);
    } else {
      // Step 12: everything was sent: post another WSARecv.
      socket.recv(DATA_BUFSIZE);
    }
  }
}

// ── the table of open connections (shared by all threads) ──

function remember(table, socket) {
  const t = new BigInt64Array(table);
  for (let i = 0; i < t.length; i++) if (Atomics.compareExchange(t, i, 0n, BigInt(socket)) === 0n) return;
  throw new RangeError(`more than ${t.length} connections`);
}

function forget(table, socket) {
  const t = new BigInt64Array(table);
  for (let i = 0; i < t.length; i++) if (Atomics.compareExchange(t, i, BigInt(socket), 0n) === BigInt(socket)) return;
}

function openSockets(table) {
  return Array.from(new BigInt64Array(table)).filter((s) => s !== 0n);
}

async function until(pred, what, limitMs = 10_000) {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > limitMs) throw new Error(`echo-server-native: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function main() {
  const port = Number(process.argv[2] ?? process.env.ECHO_PORT ?? PORT);
  const server = await startNativeEchoServer({ port });
  console.log(`native echo server listening on port ${server.port} (Ctrl+C to stop)`);
  const stop = async () => {
    const result = await server.close();
    console.log(`closed: ${result.workerExitCodes.length} worker threads exited, ${result.packetsLeft} packets left`);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (isMainThread && process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
