// Native-only tests: overlapped TCP sockets on a real completion port
// (NativeSocket). Loopback echo round trips through AcceptEx / WSARecv /
// WSASend packets, a peer that closes, failures as packets, OVERLAPPED
// blocks freed, bad arguments. Everything is on 127.0.0.1 with port 0.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

const WSAESHUTDOWN = 10058;
const WSAECONNREFUSED = 10061;
const ERROR_OPERATION_ABORTED = 995;
const ERROR_NETNAME_DELETED = 64;
const ERROR_CONNECTION_ABORTED = 1236;
/** What Wine 8 completes a recv with when its socket is closed under it (STATUS_HANDLES_CLOSED). */
const ERROR_HANDLES_CLOSED = 676;

export function socketSuite(t, { lib, libUrl }) {
  const { describe, it } = t;
  const { CompletionPort, NativeSocket } = lib;

  /**
   * Dequeues packets until one matches. Packets that arrive for other
   * operations meanwhile wait in a backlog per port and are matched first on
   * later calls, so no completion is lost to the order the kernel queued them.
   */
  const backlogs = new WeakMap();
  function take(port, pred, what) {
    if (!backlogs.has(port)) backlogs.set(port, []);
    const backlog = backlogs.get(port);
    const i = backlog.findIndex(pred);
    if (i >= 0) return backlog.splice(i, 1)[0];
    for (;;) {
      const p = port.get(10_000);
      if (p === null) throw new Error(`no packet for ${what} within 10 s (backlog: ${JSON.stringify(backlog)})`);
      if (pred(p)) return p;
      backlog.push(p);
    }
  }

  /** A listener, a connected client and the accepted server side, each under its own key. */
  function pair(port, keys = { listener: 1, client: 2, server: 3 }) {
    const listener = NativeSocket.listen(port, { host: '127.0.0.1', port: 0, key: keys.listener, backlog: 8 });
    const acceptId = listener.accept();
    const client = NativeSocket.connect(port, { host: '127.0.0.1', port: listener.localPort, key: keys.client });
    const a = take(port, (p) => p.overlapped === acceptId, 'the accept');
    assert.deepEqual([a.operation, a.completionKey, a.error], ['accept', keys.listener, 0]);
    assert.match(a.socket, /^[1-9][0-9]*$/);
    const server = NativeSocket.accepted(port, a, { key: keys.server });
    return { listener, client, server };
  }

  /** Receives on `socket` until `n` bytes arrived (a stream may split them); returns them. */
  function recvAll(port, socket, n) {
    const chunks = [];
    let got = 0;
    while (got < n) {
      const id = socket.recv(Math.min(65536, n - got));
      const p = take(port, (q) => q.overlapped === id, `recv of ${n - got} bytes`);
      assert.equal(p.error, 0, `recv failed with ${p.error}`);
      assert.ok(p.bytesTransferred > 0, 'the peer closed early');
      chunks.push(p.data);
      got += p.bytesTransferred;
    }
    return Buffer.concat(chunks);
  }

  describe('native backend: overlapped sockets', () => {
    it('echoes through loopback: accept, recv and send complete as packets with key, id, bytes and data', () => {
      const port = new CompletionPort({ backend: 'native' });
      const { listener, client, server } = pair(port);
      assert.ok(listener.localPort > 0, 'listen on port 0 got a real port');
      const sizes = [1, 5, 100, 8192, 50_000, 3];
      for (const [i, size] of sizes.entries()) {
        const message = Buffer.alloc(size);
        for (let j = 0; j < size; j++) message[j] = (i * 31 + j * 7) & 0xff;
        const sent = client.send(message, 1000 + i);
        const s = take(port, (p) => p.overlapped === 1000 + i, 'client send');
        assert.equal(sent, 1000 + i, 'a caller-chosen id comes back as is');
        assert.deepEqual([s.operation, s.completionKey, s.bytesTransferred, s.error, s.unsent], ['send', 2, size, 0, undefined]);
        // The server side echoes what it received, the way the original echo server's worker does.
        const received = recvAll(port, server, size);
        assert.ok(received.equals(message), `server received what the client sent (${size} bytes)`);
        const echo = server.send(received);
        const e = take(port, (p) => p.overlapped === echo, 'server send');
        assert.deepEqual([e.operation, e.completionKey, e.bytesTransferred, e.error], ['send', 3, size, 0]);
        const back = recvAll(port, client, size);
        assert.ok(back.equals(message), `the echo came back byte for byte (${size} bytes)`);
      }
      client.close();
      server.close();
      listener.close();
      assert.equal(port.pendingIo(), 0, 'every OVERLAPPED block was freed when its packet was dequeued');
      assert.deepEqual(port.close(), []);
    });

    it('a peer that closes: the pending recv completes with 0 bytes and no error (the original echo server\'s "BytesTransferred == 0")', () => {
      const port = new CompletionPort({ backend: 'native' });
      const { listener, client, server } = pair(port);
      const pending = server.recv(8192);
      client.shutdown('send');
      const p = take(port, (q) => q.overlapped === pending, 'recv after the peer shut down');
      assert.deepEqual([p.operation, p.completionKey, p.bytesTransferred, p.error, p.data.length], ['recv', 3, 0, 0, 0]);
      // And after closesocket on the client, the server's next recv sees the end too.
      client.close();
      const again = server.recv(16);
      const q = take(port, (x) => x.overlapped === again, 'recv after close');
      assert.equal(q.bytesTransferred, 0);
      server.close();
      listener.close();
      assert.equal(port.pendingIo(), 0);
      port.close();
    });

    it('failures arrive as packets: a send after shutdown, a recv aborted by closesocket, an accept aborted by closing the listener', () => {
      const port = new CompletionPort({ backend: 'native' });
      const { listener, client, server } = pair(port);
      // Fails at once (WSASend returns SOCKET_ERROR, WSAESHUTDOWN): no kernel packet, so the library posts one.
      client.shutdown('send');
      const denied = client.send('too late');
      const d = take(port, (p) => p.overlapped === denied, 'the failed send');
      assert.deepEqual([d.operation, d.completionKey, d.bytesTransferred, d.error], ['send', 2, 0, WSAESHUTDOWN]);
      // Pending in the kernel when its socket is closed: the kernel completes it with an error.
      const stuck = client.recv(100);
      client.close();
      const r = take(port, (p) => p.overlapped === stuck, 'the aborted recv');
      assert.equal(r.operation, 'recv');
      assert.equal(r.bytesTransferred, 0);
      assert.ok(
        [ERROR_OPERATION_ABORTED, ERROR_NETNAME_DELETED, ERROR_CONNECTION_ABORTED, ERROR_HANDLES_CLOSED].includes(r.error),
        `aborted recv: error ${r.error}`,
      );
      // An AcceptEx pending when the listener closes: an accept packet with an error and no socket.
      const accepting = listener.accept();
      listener.close();
      const a = take(port, (p) => p.overlapped === accepting, 'the aborted accept');
      assert.equal(a.operation, 'accept');
      assert.notEqual(a.error, 0);
      assert.equal(a.socket, undefined, 'a failed accept hands out no socket (the library closed it)');
      assert.throws(() => NativeSocket.accepted(port, a), TypeError);
      server.close();
      assert.equal(port.pendingIo(), 0, 'no OVERLAPPED block outlived its packet');
      port.close();
    });

    it('close() of the port returns socket completions still queued and frees their blocks', () => {
      const port = new CompletionPort({ backend: 'native' });
      const { listener, client, server } = pair(port);
      const id = client.send('queued at close');
      const r = server.recv(64);
      // Both complete in the kernel (the send, then the recv with its data); nobody dequeues them before close().
      const left = [];
      const deadline = Date.now() + 10_000;
      while (port.stats().queued < 2 && Date.now() < deadline);
      client.close();
      server.close();
      listener.close();
      left.push(...port.close());
      assert.deepEqual(
        left.map((p) => [p.overlapped, p.operation]).sort((a, b) => a[0] - b[0]),
        [
          [id, 'send'],
          [r, 'recv'],
        ].sort((a, b) => a[0] - b[0]),
      );
      assert.equal(new TextDecoder().decode(left.find((p) => p.overlapped === r).data), 'queued at close');
      assert.equal(port.pendingIo(), 0);
    });

    it('many connections on one port: 8 clients, 20 round trips each, interleaved, every byte checked', () => {
      const port = new CompletionPort({ backend: 'native' });
      const listener = NativeSocket.listen(port, { host: '127.0.0.1', key: -1 });
      const conns = [];
      for (let i = 0; i < 8; i++) {
        const acceptId = listener.accept();
        const client = NativeSocket.connect(port, { port: listener.localPort, key: 100 + i });
        const a = take(port, (p) => p.overlapped === acceptId, `accept ${i}`);
        conns.push({ client, server: NativeSocket.accepted(port, a, { key: 200 + i }) });
      }
      for (let round = 0; round < 20; round++) {
        const messages = conns.map((_, i) => Buffer.from(`round ${round} connection ${i} `.repeat(1 + ((round * 7 + i) % 40))));
        for (const [i, c] of conns.entries()) c.client.send(messages[i]);
        for (const [i, c] of conns.entries()) {
          const got = recvAll(port, c.server, messages[i].length);
          assert.ok(got.equals(messages[i]));
          c.server.send(got);
        }
        for (const [i, c] of conns.entries()) assert.ok(recvAll(port, c.client, messages[i].length).equals(messages[i]));
        // The send packets: one per client and per server send, each with its key and full length.
        const sends = [];
        while (sends.length < 16) sends.push(take(port, (p) => p.operation === 'send', 'send packets'));
        assert.deepEqual(
          sends.map((p) => p.completionKey).sort((a, b) => a - b),
          [...conns.map((_, i) => 100 + i), ...conns.map((_, i) => 200 + i)],
        );
        for (const p of sends) assert.equal(p.error, 0);
      }
      for (const c of conns) {
        c.client.close();
        c.server.close();
      }
      listener.close();
      assert.equal(port.pendingIo(), 0);
      port.close();
    });

    it('a socket handle attaches in another thread; bad arguments throw TypeError/RangeError; a refused connect throws its Winsock error', async () => {
      const port = new CompletionPort({ backend: 'native' });
      const { listener, client, server } = pair(port);
      assert.deepEqual(structuredClone(server.handle), { socket: server.handle.socket, key: 3 });
      // A worker attaches to the port and the server socket by their handles, sends, and dequeues its own packet.
      const worker = new Worker(new URL('./fixtures/socket-sender.mjs', import.meta.url), {
        workerData: { handle: port.handle, socket: server.handle, libUrl, text: 'from a worker' },
      });
      const report = await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      assert.deepEqual(report.packet, { bytesTransferred: 13, completionKey: 3, overlapped: report.id, error: 0, operation: 'send' });
      assert.equal(new TextDecoder().decode(recvAll(port, client, 13)), 'from a worker');
      assert.throws(() => NativeSocket.listen(new CompletionPort(), {}), TypeError);
      assert.throws(() => NativeSocket.listen(port, { host: 'localhost' }), RangeError);
      assert.throws(
        () => NativeSocket.listen(port, { port: 70_000 }),
        (e) => e instanceof RangeError && e.message.includes('port'),
      );
      assert.throws(
        () => NativeSocket.connect(port, {}),
        (e) => e instanceof TypeError && e.message.includes('port'),
      );
      assert.throws(() => NativeSocket.from(port, { socket: 'x' }), TypeError);
      assert.throws(
        () => server.recv(0),
        (e) => e instanceof RangeError && e.message.includes('length'),
      );
      assert.throws(() => server.send(42), TypeError);
      assert.throws(() => server.shutdown('sideways'), RangeError);
      const refusedPort = listener.localPort;
      listener.close();
      assert.throws(
        () => NativeSocket.connect(port, { port: refusedPort }),
        (e) => e.winsockError === WSAECONNREFUSED,
      );
      client.close();
      server.close();
      assert.throws(() => server.recv(1), /closed/);
      assert.equal(port.pendingIo(), 0);
      port.close();
      assert.throws(() => NativeSocket.listen(port, { host: '127.0.0.1' }), lib.PortClosedError);
    });
  });
}
