// examples/bullmq: the worker and the producer as a user runs them, against a real redis-server.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { harness } from './helpers.js';
import { redisBinary, SKIP_REASON } from './redis.js';

const example = (name: string): string => fileURLToPath(new URL(`../../examples/bullmq/${name}`, import.meta.url));

describe.skipIf(redisBinary === undefined)(`examples/bullmq${redisBinary ? '' : ` (${SKIP_REASON})`}`, () => {
  const h = harness();

  it('the producer adds 300 jobs, the worker runs them all on its pool, SIGTERM closes it with exit code 0', async () => {
    const env = { ...process.env, REDIS_HOST: '127.0.0.1', REDIS_PORT: String(h.redis.port) };
    const worker = spawn(process.execPath, [example('worker.mjs')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    worker.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    worker.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    try {
      while (!out.includes('worker ready')) {
        if (worker.exitCode !== null) throw new Error(`the worker exited: ${err}`);
        await once(worker.stdout, 'data');
      }
      const producer = spawn(process.execPath, [example('producer.mjs'), '300', '20'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      let produced = '';
      producer.stdout.setEncoding('utf8').on('data', (d: string) => (produced += d));
      const [code] = await once(producer, 'exit');
      expect(code).toBe(0);
      expect(produced).toContain('added 300 jobs: fib(20)');
      expect(produced).toMatch(/done: 300 completed, 0 failed/);
      const exited = once(worker, 'exit');
      worker.kill('SIGTERM');
      expect((await exited)[0]).toBe(0);
      expect(out).toContain('300 jobs done (last: fib(20) = 6765)');
      expect(out).toContain('closed after 300 jobs; 0 job(s) handed back to the queue');
      expect(err).toBe('');
    } finally {
      if (worker.exitCode === null) worker.kill('SIGKILL');
    }
  });
});
