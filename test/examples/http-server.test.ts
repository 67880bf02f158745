// examples/http-server.mjs: node:http on the main thread, every page rendered on a pool thread —
// started as a user starts it (PORT from the environment), asked over real HTTP, stopped by SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { render } from '../../examples/http-server-render.mjs';

const SERVER = fileURLToPath(new URL('../../examples/http-server.mjs', import.meta.url));

/** A TCP port nothing listens on now (the kernel's pick, released at once). */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of several shapes, checked field by field
type Json = any;

async function get(port: number, path: string): Promise<{ status: number; type: string | null; body: Json }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
}

describe('examples/http-server.mjs (node:http, pages rendered on the pool)', () => {
  let child: ChildProcess;
  let port: number;
  let stdout = '';

  beforeAll(async () => {
    port = await freePort();
    child = spawn(process.execPath, [SERVER], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout!.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (text: string) => {
        stdout += text;
        if (stdout.includes(`listening on http://localhost:${port}`)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code} before listening: ${stdout}`)));
    });
  }, 30_000);

  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('answers 100 concurrent renders with JSON that matches the page, each rendered on a pool thread', async () => {
    const asks = Array.from({ length: 100 }, (_, i) => ({ name: `user ${i} <&>`, rows: 1 + ((i * 37) % 600) }));
    const answers = await Promise.all(asks.map(({ name, rows }) => get(port, `/render?name=${encodeURIComponent(name)}&rows=${rows}`)));
    const threads = new Set<number>();
    for (const [i, { status, type, body }] of answers.entries()) {
      const expected = render(asks[i]!);
      expect(status, `request ${i}`).toBe(200);
      expect(type).toBe('application/json; charset=utf-8');
      expect(body, `request ${i}`).toMatchObject({
        name: asks[i]!.name,
        rows: asks[i]!.rows,
        total: expected.total,
        bytes: expected.bytes,
        etag: expected.etag,
      });
      expect(body.thread, 'rendered off the main thread').toBeGreaterThan(0);
      threads.add(body.thread);
    }
    expect(threads.size).toBeGreaterThanOrEqual(1);
    const stats = await get(port, '/stats');
    expect(stats.status).toBe(200);
    expect(stats.body.completed).toBeGreaterThanOrEqual(100);
    expect(stats.body.failed).toBe(0);
  });

  it('answers bad requests with a JSON error: 400 for a bad rows, 404 for an unknown path, 405 for a POST', async () => {
    expect(await get(port, '/render?rows=0')).toMatchObject({ status: 400, body: { error: 'rows must be an integer from 1 to 5000' } });
    expect(await get(port, '/render?rows=many')).toMatchObject({ status: 400 });
    expect(await get(port, '/nowhere')).toMatchObject({ status: 404, body: { error: expect.stringContaining('/render') } });
    const post = await fetch(`http://127.0.0.1:${port}/render`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(await post.json()).toEqual({ error: 'only GET' });
  });

  it('stops on SIGTERM: closes the server and the pool, exits 0', async () => {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(stdout).toContain('SIGTERM: closing\nclosed\n');
  });
});
