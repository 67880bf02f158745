// A throwaway redis-server for the BullMQ tests: a free loopback port, no persistence, a temp dir.
// No redis-server binary → `redisBinary` is undefined and the suites skip, saying so.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

function findRedis(): string | undefined {
  const fromEnv = process.env.REDIS_SERVER;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  const candidates = fromEnv ? [fromEnv] : dirs.filter(Boolean).map((dir) => path.join(dir, 'redis-server'));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export const redisBinary = findRedis();

/** The suite title suffix when there is no server to test against. */
export const SKIP_REASON = 'SKIPPED: no redis-server binary (install it: apt-get install -y redis-server, or set REDIS_SERVER)';

export interface RedisServer {
  readonly port: number;
  readonly connection: { host: string; port: number; maxRetriesPerRequest: null };
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts redis-server and resolves once it accepts connections (it says so on stdout). */
async function startOn(binary: string, port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'notice'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  return new Promise<ChildProcess>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      if (log.includes('Ready to accept connections')) {
        child.stdout!.off('data', onData);
        child.stdout!.resume(); // keep draining, silently
        child.off('exit', onExit);
        resolve(child);
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`redis-server exited (code ${code}) before it was ready:\n${log}`));
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.once('exit', onExit);
    child.once('error', reject);
  });
}

export async function startRedis(): Promise<RedisServer> {
  if (redisBinary === undefined) throw new Error(SKIP_REASON);
  const dir = mkdtempSync(path.join(tmpdir(), 'iocp-pool-redis-'));
  let lastError: unknown;
  // The port is free when we look; another process may take it before redis binds: try again.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      const child = await startOn(redisBinary, port, dir);
      return {
        port,
        connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null },
        async stop() {
          if (child.exitCode === null) {
            const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
            child.kill('SIGTERM');
            await exited;
          }
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      lastError = error;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}
