// examples/echo-server-native.mjs under Windows (or Wine): the seeds' echo
// server on Winsock sockets and the kernel's completion port, driven by
// several node:net clients; every echoed byte is checked, and it shuts down
// with its threads gone and no OVERLAPPED block left.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';

/** Connects, writes `data` in pieces, ends its side, and resolves with every byte received until the server closes. */
async function echo(port, data, piece) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  const chunks = [];
  socket.on('data', (c) => chunks.push(c));
  const ended = once(socket, 'end');
  for (let i = 0; i < data.length; i += piece) {
    if (!socket.write(data.subarray(i, i + piece))) await once(socket, 'drain');
  }
  socket.end();
  await ended;
  socket.destroy();
  return Buffer.concat(chunks);
}

function pattern(size, seed) {
  const b = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export function echoExampleSuite(t) {
  const { describe, it } = t;
  describe('examples/echo-server-native.mjs (the seeds\' echo server on Winsock and the kernel port)', () => {
    it('echoes every byte to 6 concurrent clients through worker threads blocked in GQCS, then shuts down cleanly', async () => {
      const { startNativeEchoServer } = await import('../../examples/echo-server-native.mjs');
      const server = await startNativeEchoServer({ port: 0, host: '127.0.0.1', threads: 4 });
      assert.ok(server.port > 0);
      const sizes = [1, 5000, 8192, 8193, 100_000, 400_000];
      const inputs = sizes.map((size, i) => pattern(size, i + 7));
      const outputs = await Promise.all(inputs.map((data, i) => echo(server.port, data, [1000, 8192, 30_000][i % 3])));
      for (const [i, out] of outputs.entries()) {
        assert.equal(out.length, inputs[i].length, `client ${i}: echoed length`);
        assert.ok(out.equals(inputs[i]), `client ${i}: every echoed byte`);
      }
      assert.equal(server.connections(), 0, 'each connection was closed by a worker after its 0-byte recv');
      assert.deepEqual(await server.close(), { workerExitCodes: [0, 0, 0, 0], packetsLeft: 0, pendingIo: 0 });
    });

    it('shuts down with clients still connected: their I/O is cancelled, their sockets closed, every worker exits', async () => {
      const { startNativeEchoServer } = await import('../../examples/echo-server-native.mjs');
      const server = await startNativeEchoServer({ port: 0, host: '127.0.0.1', threads: 2 });
      const clients = await Promise.all(
        [0, 1, 2].map(async (i) => {
          const socket = net.connect({ port: server.port, host: '127.0.0.1' });
          await once(socket, 'connect');
          socket.write(`hello ${i}`);
          const [data] = await once(socket, 'data'); // echoed: the connection is served
          assert.equal(String(data), `hello ${i}`);
          return socket;
        }),
      );
      assert.equal(server.connections(), 3);
      const gone = clients.map((s) => once(s, 'close'));
      assert.deepEqual(await server.close(), { workerExitCodes: [0, 0], packetsLeft: 0, pendingIo: 0 });
      await Promise.all(gone);
    });
  });
}
