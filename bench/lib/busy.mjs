/**
 * A loaded machine: one busy-loop child process per core, started before a
 * measurement and killed after it. Each child computes without a pause; every
 * 50 ms it checks that its parent is still alive (its ppid unchanged) and
 * exits otherwise, so a measuring process that dies or is killed leaves no
 * spinning orphan behind.
 */
import { spawn } from 'node:child_process';

const LOOP = `
const parent = process.ppid;
process.stdout.write('spinning\\n');
let x = 0;
for (;;) {
  const until = Date.now() + 50;
  while (Date.now() < until) x = (x * 31 + 7) | 0;
  if (process.ppid !== parent) process.exit(0);
}`;

/** Starts n busy loops; resolves once every one is spinning, with stop() (kills them, resolves when all have exited). */
export async function startBusyLoops(n) {
  const children = Array.from({ length: n }, () => spawn(process.execPath, ['-e', LOOP], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const exited = children.map((c) => new Promise((resolve) => c.once('exit', resolve)));
  await Promise.all(
    children.map(
      (c) =>
        new Promise((resolve, reject) => {
          c.once('error', reject);
          c.once('exit', (code) => reject(new Error(`a busy loop exited with ${code} before it spun`)));
          c.stdout.once('data', resolve);
        }),
    ),
  );
  return {
    pids: children.map((c) => c.pid),
    stop: async () => {
      for (const c of children) c.kill('SIGKILL');
      await Promise.all(exited);
    },
  };
}
