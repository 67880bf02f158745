// The Winsock echo server on port 5150 from the original articles (articles 3
// and 5 of docs/background.md), ported to Node with this library's
// CompletionPort: portable, runs on any OS.
//
//   npm run build && node examples/echo-server.mjs [port]     (or ECHO_PORT=…; 0 = any free port)
//
// The C program, step by step, and where each step is here:
//
//   original (C, Winsock)                            here (Node)
//   ───────────────────────────────────────────────  ─────────────────────────────────────────────
//   1 WSAStartup                                     nothing to do: node:net
//   2 CreateIoCompletionPort(INVALID_HANDLE_VALUE,   `work = new CompletionPort({ concurrency: 0 })`
//       NULL, 0, 0)                                    (0 = as many running threads as processors)
//   3 2 × processors × CreateThread(ServerWorker-    2 × cores Workers running this file; each
//       Thread, CompletionPort)                          attaches with CompletionPort.from(handle)
//   4 WSASocket, bind, listen on 5150                `net.createServer().listen(5150)`
//   5 WSAAccept loop                                 the server's 'connection' events
//   6 PER_HANDLE_DATA + CreateIoCompletionPort(      a connection number as completionKey (the
//       Accept, port, PerHandleData, 0)                  socket is found by key in `connections`)
//   7 PER_IO_OPERATION_DATA { OVERLAPPED, WSABUF,    one slot per connection in shared memory:
//       Buffer[8192], BytesSEND, BytesRECV }             `buffers` (8192 bytes) + `counts` (BytesRecv, BytesSend)
//   8 WSARecv(Accept, …, &PerIOData->Overlapped)     `WSARecv(key, slot)`: see below
//   9 worker: GetQueuedCompletionStatus(INFINITE)    `work.get()` in each worker
//  10   BytesTransferred == 0 → closesocket,         `closesocket(key, slot)`
//         GlobalFree both structures
//  11   BytesRecv > BytesSend → WSASend the rest     `WSASend(key, slot)`
//  12   else → WSARecv again                         `WSARecv(key, slot)`
//      (the original never shuts down)               close(): one sentinel packet per worker after
//                                                      the queued work, as CThreadPools::Close does
//
// Why a second port: in Windows the kernel owns the sockets and does the I/O
// a worker asks for, then queues a completion packet. In Node a socket lives
// on the main thread's event loop, so the main thread plays the kernel's
// part: a worker's WSARecv / WSASend / closesocket is a request packet posted
// to `requests` (the main thread waits on it with getAsync, never blocking
// its event loop); the main thread does the I/O with node:net, writes what it
// received into the connection's shared buffer, and posts the completion
// packet — (bytesTransferred, completionKey, overlapped) — to `work`, where
// any worker may get it. The workers never touch a socket, exactly as the
// original's workers only see buffers, byte counts and keys.
import { once } from 'node:events';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import { CompletionPort, PortClosedError } from 'iocp-pool';

const PORT = 5150;
const DATA_BUFSIZE = 8192; // the original's per-I/O buffer
const SENTINEL = -1; // overlapped of the shutdown packet: "exit now"
// Request packets (worker → main thread): the call the worker makes, in `overlapped`.
const OP_WSARECV = 1;
const OP_WSASEND = 2;
const OP_CLOSESOCKET = 3;
// counts[2 * slot + …]: the original's PER_IO_OPERATION_DATA byte counters.
const BYTES_RECV = 0;
const BYTES_SEND = 1;

if (!isMainThread && workerData?.echoServer) serverWorkerThread(workerData);

/**
 * Starts the server. `port` 0 picks a free port; `threads` defaults to the
 * original's 2 × processors; `slots` bounds concurrent connections (one per-I/O
 * slot each). Resolves with { port, close() }.
 */
export async function startEchoServer({ port = PORT, host, threads = 2 * availableParallelism(), slots = 1024 } = {}) {
  // Step 2: the completion port. Step 3: the worker threads, each waiting on it.
  const work = new CompletionPort({ concurrency: 0 });
  const requests = new CompletionPort({ concurrency: 1 });
  const buffers = new SharedArrayBuffer(slots * DATA_BUFSIZE);
  const counts = new SharedArrayBuffer(slots * 2 * 4);
  const shared = { echoServer: true, work: work.handle, requests: requests.handle, buffers, counts };
  const workers = [];
  for (let i = 0; i < threads; i++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: shared });
    worker.on('error', (error) => console.error('echo-server worker failed:', error));
    workers.push(worker);
  }

  /** Step 6's per-handle data, by completion key: { socket, slot, queue of received chunks, reading, ended }. */
  const connections = new Map();
  const freeSlots = Array.from({ length: slots }, (_, i) => slots - 1 - i);
  const slotBytes = (slot) => new Uint8Array(buffers, slot * DATA_BUFSIZE, DATA_BUFSIZE);
  const slotCounts = new Int32Array(counts);
  let nextKey = 1;

  // Step 4: the listening socket. Step 5: accepting connections.
  // allowHalfOpen: a client that sends and then ends its side still gets every byte echoed before we close.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const slot = freeSlots.pop();
    if (slot === undefined) {
      socket.destroy(); // no per-I/O data left for it: refuse, as a failed GlobalAlloc would
      return;
    }
    // Step 6: the per-handle data under a completion key of its own.
    const key = nextKey++;
    const conn = { socket, slot, queue: [], reading: false, ended: false };
    connections.set(key, conn);
    Atomics.store(slotCounts, 2 * slot + BYTES_RECV, 0);
    Atomics.store(slotCounts, 2 * slot + BYTES_SEND, 0);
    socket.pause(); // nothing is read until a WSARecv is outstanding
    socket.on('data', (chunk) => {
      conn.queue.push(chunk);
      socket.pause();
      completeRecv(key, conn);
    });
    socket.on('end', () => {
      conn.ended = true;
      completeRecv(key, conn);
    });
    socket.on('error', () => {
      // A reset connection ends like a closed one: the worker sees 0 bytes and closes it.
      conn.ended = true;
      completeRecv(key, conn);
    });
    // Step 8: the first overlapped WSARecv on the new connection.
    doRecv(key, conn);
  });

  /** The kernel's side of WSARecv: with a recv outstanding, the next bytes (≤ 8192) go into the slot and a packet is queued. */
  function completeRecv(key, conn) {
    if (!conn.reading) return;
    if (conn.queue.length > 0) {
      const chunk = conn.queue[0];
      const n = Math.min(chunk.length, DATA_BUFSIZE);
      slotBytes(conn.slot).set(chunk.subarray(0, n));
      if (n === chunk.length) conn.queue.shift();
      else conn.queue[0] = chunk.subarray(n); // the rest waits for the next WSARecv, as in the kernel's socket buffer
      conn.reading = false;
      work.post(n, key, conn.slot);
    } else if (conn.ended) {
      conn.reading = false;
      work.post(0, key, conn.slot); // the original's "BytesTransferred == 0": the peer closed
    }
  }

  function doRecv(key, conn) {
    conn.reading = true;
    completeRecv(key, conn);
    if (conn.reading && !conn.ended) conn.socket.resume();
  }

  /** The main thread's loop over request packets: the I/O the workers ask for. */
  async function serveRequests() {
    for (;;) {
      let packet;
      try {
        packet = await requests.getAsync();
      } catch (error) {
        if (error instanceof PortClosedError) return;
        throw error;
      }
      const { completionKey: key, overlapped: op } = packet;
      const conn = connections.get(key);
      if (conn === undefined) continue; // closed meanwhile (shutdown)
      if (op === OP_WSARECV) doRecv(key, conn);
      else if (op === OP_WSASEND) {
        // The kernel's side of WSASend: send BytesRecv − BytesSend bytes from offset BytesSend; complete with the count.
        const from = Atomics.load(slotCounts, 2 * conn.slot + BYTES_SEND);
        const to = Atomics.load(slotCounts, 2 * conn.slot + BYTES_RECV);
        const data = Buffer.from(slotBytes(conn.slot).subarray(from, to)); // a copy: the slot is reused by the next WSARecv
        // A failed send completes with 0 bytes, so the worker closes the connection (the original's worker would exit).
        conn.socket.write(data, (error) => work.post(error ? 0 : data.length, key, conn.slot));
      } else if (op === OP_CLOSESOCKET) {
        // Step 10's closesocket + GlobalFree: the socket, its per-handle data and its per-I/O slot.
        connections.delete(key);
        conn.socket.end(() => conn.socket.destroy()); // end(): what was sent is flushed, then FIN
        freeSlots.push(conn.slot);
      }
    }
  }

  const served = serveRequests();
  server.listen(port, host);
  await once(server, 'listening');

  let closing;
  return {
    port: server.address().port,
    connections: () => connections.size,
    /** Stops accepting, closes every connection, then the articles' shutdown: one sentinel per worker after the queued work. */
    close() {
      closing ??= (async () => {
        const stopped = new Promise((resolve) => server.close(resolve));
        for (const [key, conn] of connections) {
          connections.delete(key);
          conn.socket.destroy();
        }
        await stopped;
        const exits = workers.map((w) => once(w, 'exit'));
        for (let i = 0; i < workers.length; i++) work.post(0, 0, SENTINEL);
        const codes = (await Promise.all(exits)).map(([code]) => code);
        const left = work.close();
        requests.close();
        await served;
        return { workerExitCodes: codes, packetsLeft: left.length };
      })();
      return closing;
    },
  };
}

/** Step 3's ServerWorkerThread: loop on GetQueuedCompletionStatus and drive each connection's echo. */
function serverWorkerThread({ work: workHandle, requests: requestsHandle, buffers, counts }) {
  const work = CompletionPort.from(workHandle);
  const requests = CompletionPort.from(requestsHandle);
  const slotCounts = new Int32Array(counts);
  void buffers; // the data itself is only read by the main thread's "kernel"; a handler could inspect it here
  const WSARecv = (key) => requests.post(0, key, OP_WSARECV);
  const WSASend = (key) => requests.post(0, key, OP_WSASEND);
  const closesocket = (key) => requests.post(0, key, OP_CLOSESOCKET);

  for (;;) {
    // Step 9: GetQueuedCompletionStatus(CompletionPort, &BytesTransferred, &PerHandleData, &PerIoData, INFINITE).
    const { bytesTransferred, completionKey: key, overlapped: slot } = work.get();
    if (slot === SENTINEL) {
      work.detach(); // the articles' shutdown: give our slot back and exit
      requests.detach();
      return;
    }
    const recv = 2 * slot + BYTES_RECV;
    const send = 2 * slot + BYTES_SEND;

    // Step 10: zero bytes means the peer closed: close the socket, free its data.
    if (bytesTransferred === 0) {
      closesocket(key);
      continue;
    }

    // Which operation completed: BytesRecv == 0 means a WSARecv (the original's own trick).
    if (Atomics.load(slotCounts, recv) === 0) {
      Atomics.store(slotCounts, recv, bytesTransferred);
      Atomics.store(slotCounts, send, 0);
    } else {
      // A WSASend completed. (Article 5's copy adds to BytesRECV here, a typo:
      // the book's program, and the logic below, add to BytesSEND.)
      Atomics.add(slotCounts, send, bytesTransferred);
    }

    if (Atomics.load(slotCounts, recv) > Atomics.load(slotCounts, send)) {
      // Step 11: WSASend does not promise to send everything at once: send the rest.
      WSASend(key);
    } else {
      // Step 12: all sent: post another WSARecv.
      Atomics.store(slotCounts, recv, 0);
      WSARecv(key);
    }
  }
}

async function main() {
  const port = Number(process.argv[2] ?? process.env.ECHO_PORT ?? PORT);
  const server = await startEchoServer({ port });
  console.log(`echo server listening on port ${server.port} (Ctrl+C to stop)`);
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
