// Programs that use a pool and then end: each runs in a child process of its own, and must exit by
// itself, with everything its pool threads printed — after a thread died under a task, under
// Node options meant for the main program, with output still on its way.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture } from './helpers.js';
import { ownStderr } from '../child-stderr.js';

const dist = JSON.stringify(new URL('../../dist/index.js', import.meta.url).href);

type Outcome = { code: number | null; stdout: string; stderr: string };

/** Runs `node ...args`; resolves with its exit code and output, or code null if it still ran after `ms` (then it is killed). */
function node(args: string[], ms = 15_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: hung ? null : code, stdout, stderr });
    });
  });
}

/** Runs `source` (an ES module) as a program of its own. */
async function program(source: string): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'iocp-pool-exits-'));
  const file = join(dir, 'main.mjs');
  writeFileSync(file, source);
  try {
    return await node([file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('ThreadPool: a program that is done exits', () => {
  it.each([
    ['an async handler whose thread dies of an uncaught error', { op: 'uncaught', message: 'boom' }, /uncaught error \(boom\)/],
    ['a sync handler that calls process.exit()', { op: 'exit', code: 3 }, /process\.exit\(3\)/],
  ])('after %s: its run() rejects, then the process exits by itself', async (_, task, message) => {
    const r = await program(
      [
        `import { ThreadPool } from ${dist};`,
        `const pool = new ThreadPool({ filename: ${JSON.stringify(fixture('ops.mjs'))}, threads: 2 });`,
        `await pool.run(${JSON.stringify(task)}).then(() => console.log('resolved'), (e) => console.log(e.name, e.message));`,
      ].join('\n'),
    );
    // Before the fix the result loop kept waiting for a result that would never come, and its
    // wait kept the process alive: code null (killed after 15 s).
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^WorkerDiedError /);
    expect(r.stdout).toMatch(message);
  });

  it.each(['--input-type=module', '--input-type module'])(
    "under `node %s -e …`: the threads start (the option is the main program's)",
    async (option) => {
      const source = [
        `import { ThreadPool } from ${dist};`,
        `const pool = new ThreadPool({ filename: ${JSON.stringify(fixture('ops.mjs'))}, threads: 1 });`,
        `console.log(await pool.run({ op: 'echo', value: 'ran' }));`,
        'await pool.close();',
      ].join('\n');
      const r = await node([...option.split(' '), '-e', source]);
      // Before the fix every thread inherited --input-type and died loading its entry file:
      // WorkerLoadError "--input-type can only be used with string input".
      expect(ownStderr(r.stderr)).toBe('');
      expect(r.stdout).toBe('ran\n');
      expect(r.code).toBe(0);
    },
  );

  it('keeps every line a handler printed before its result, when the program ends with that result (16 programs)', async () => {
    const source = [
      `import { ThreadPool } from ${dist};`,
      `const pool = new ThreadPool({ filename: ${JSON.stringify(fixture('sync-ops.mjs'))}, threads: 1 });`,
      `await pool.run({ op: 'log', lines: Array.from({ length: 50 }, (_, i) => 'line ' + i) });`,
    ].join('\n');
    // Sixteen at once: the load makes the race likely (before the fix 3 or 4 in 16 lost lines).
    const runs = await Promise.all(Array.from({ length: 16 }, () => program(source)));
    for (const r of runs) {
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(50);
    }
  });
});
