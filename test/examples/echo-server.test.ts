// examples/echo-server.mjs: the Winsock echo server of the original articles (docs/background.md) on a portable CompletionPort.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startEchoServer } from '../../examples/echo-server.mjs';
import { echo, pattern } from '../fixtures/echo-client.mjs';

describe('examples/echo-server.mjs (the Winsock echo server on port 5150)', () => {
  it('echoes every byte to 8 concurrent clients through its worker threads, then closes cleanly', async () => {
    const server = await startEchoServer({ port: 0, host: '127.0.0.1', threads: 4 });
    expect(server.port).toBeGreaterThan(0);
    // Sizes around the original's 8192-byte buffer, and pieces smaller and larger than it.
    const sizes = [1, 100, 8191, 8192, 8193, 65_536, 300_000, 1_000_000];
    const inputs = sizes.map((size, i) => pattern(size, i + 1));
    const outputs = await Promise.all(inputs.map((data, i) => echo(server.port, data, [1000, 8192, 50_000][i % 3]!)));
    for (const [i, out] of outputs.entries()) {
      expect(out.length, `client ${i}: echoed length`).toBe(inputs[i]!.length);
      expect(out.equals(inputs[i]!), `client ${i}: every echoed byte`).toBe(true);
    }
    // Every connection was closed by a worker's closesocket (0 bytes), then the sentinel shutdown.
    expect(server.connections()).toBe(0);
    const closed = await server.close();
    expect(closed).toEqual({ workerExitCodes: [0, 0, 0, 0], packetsLeft: 0 });
  });

  it('closes with clients still connected: their sockets are closed and every worker exits', async () => {
    const server = await startEchoServer({ port: 0, host: '127.0.0.1', threads: 2 });
    const clients = await Promise.all(
      [0, 1, 2].map(async () => {
        const socket = net.connect({ port: server.port, host: '127.0.0.1' });
        await once(socket, 'connect');
        socket.write('hello');
        await once(socket, 'data'); // echoed: the connection is served
        return socket;
      }),
    );
    expect(server.connections()).toBe(3);
    const gone = clients.map((s) => once(s, 'close'));
    expect(await server.close()).toEqual({ workerExitCodes: [0, 0], packetsLeft: 0 });
    await Promise.all(gone);
  });

  it('runs as a program: port from the command line (0 = any), SIGTERM stops it with exit code 0', async () => {
    const child = spawn(process.execPath, [new URL('../../examples/echo-server.mjs', import.meta.url).pathname, '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (text: string) => {
        out += text;
        const m = /listening on port (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code} before listening: ${out}`)));
    });
    const data = pattern(20_000, 99);
    expect((await echo(port, data, 4096)).equals(data)).toBe(true);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(out).toMatch(/closed: \d+ worker threads exited, 0 packets left/);
  });
});
