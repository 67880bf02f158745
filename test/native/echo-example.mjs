// examples/echo-server-native.mjs under Windows (or Wine): the original articles' echo
// server on Winsock sockets and the kernel's completion port, driven by
// several node:net clients; every echoed byte is checked, and it shuts down
// with its threads gone and no OVERLAPPED block left.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { echo, pattern } from '../fixtures/echo-client.mjs';

export function echoExampleSuite(t) {
  const { describe, it } = t;
  describe("examples/echo-server-native.mjs (the original articles' echo server on Winsock and the kernel port)", () => {
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
