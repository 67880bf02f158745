// examples/demo.mjs (npm start): the pool at work, then the completion port underneath, as a user runs it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../../examples/demo.mjs', import.meta.url));

function runDemo(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('examples/demo.mjs (npm start)', () => {
  it('runs tasks with pool.run() — CPU work, progress, tiny tasks against postMessage workers — then narrates the port, and exits 0', async () => {
    const { code, stdout, stderr } = await runDemo();
    const what = `--- stdout\n${stdout}--- stderr\n${stderr}`;
    expect(code, what).toBe(0);
    expect(stderr, what).toBe('');
    // Part 1: eight fib(30) results, the three progress steps before run() resolved, both rates.
    expect(stdout.match(/fib\(30\) = 832040, on thread \d+/g), what).toHaveLength(8);
    const steps = [1, 2, 3].map((i) => stdout.indexOf(`progress: step ${i} of 3`));
    expect(
      steps.every((at, i) => at > 0 && (i === 0 || at > steps[i - 1]!)),
      what,
    ).toBe(true);
    expect(stdout.indexOf('run() resolved with 3'), what).toBeGreaterThan(steps[2]!);
    expect(stdout, what).toMatch(/pool\.run\(\): +50,000 tasks in +\d+ ms/);
    expect(stdout, what).toMatch(/postMessage workers: 50,000 tasks in +\d+ ms/);
    expect(stdout, what).toContain('pool.close(): everything queued completed, every thread exited');
    // Part 2: the port's trace, through to the sentinel shutdown.
    expect(stdout, what).toContain('worker 3 got all three');
    expect(stdout.match(/got the sentinel: exiting/g), what).toHaveLength(4);
    expect(stdout, what).toContain('close() returned 0 undelivered packets');
  }, 60_000);
});
