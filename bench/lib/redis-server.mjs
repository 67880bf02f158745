/**
 * A throwaway redis-server: a free loopback port, no persistence, a temp dir.
 * Used by the BullMQ tests and bench/bullmq.mjs. `findRedis()` is undefined
 * when no binary is installed (the callers skip, saying so).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const NO_REDIS = 'no redis-server binary (install it: apt-get install -y redis-server, or set REDIS_SERVER to its path)';

/** $REDIS_SERVER, else redis-server on PATH (or in /usr/bin, /usr/sbin, /usr/local/bin). */
export function findRedis() {
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

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts redis-server and resolves once it accepts connections (it says so on stdout). */
function startOn(binary, port, dir) {
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      log += chunk.toString();
      if (log.includes('Ready to accept connections')) {
        child.stdout.off('data', onData);
        child.stdout.resume(); // keep draining, silently
        child.off('exit', onExit);
        resolve(child);
      }
    };
    const onExit = (code) => reject(new Error(`redis-server exited (code ${code}) before it was ready:\n${log}`));
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => (log += chunk.toString()));
    child.once('exit', onExit);
    child.once('error', reject);
  });
}

/** Resolves { port, connection, version, stop() }; rejects if there is no binary or it cannot start. */
export async function startRedis() {
  const binary = findRedis();
  if (binary === undefined) throw new Error(NO_REDIS);
  const dir = mkdtempSync(path.join(tmpdir(), 'iocp-pool-redis-'));
  let lastError;
  // The port is free when we look; another process may take it before redis binds: try again.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      const child = await startOn(binary, port, dir);
      return {
        port,
        connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null },
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((resolve) => child.once('exit', () => resolve()));
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
