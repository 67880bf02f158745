/** Runs one measurement in a fresh `node` child and returns its JSON result. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('../child.mjs', import.meta.url));

/**
 * Resolves { ok: true, result, ms, warnings } or { ok: false, error, ms }; never rejects.
 * warnings: the child's stderr lines that start with `warning: `.
 * A child that exceeds timeoutMs is killed (its process group) and reported as an error.
 */
export function measureInChild(spec, { nodeArgs = [], timeoutMs = 180_000 } = {}) {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeArgs, CHILD, JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let err = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      const lines = out.split('\n');
      const res = lines.findLast((l) => l.startsWith('@@RESULT '));
      const warnings = err.split('\n').filter((l) => l.startsWith('warning: '));
      if (res && code === 0) return resolve({ ok: true, result: JSON.parse(res.slice(9)), ms, warnings });
      const errLine = lines.findLast((l) => l.startsWith('@@ERROR '));
      const error = timedOut
        ? `timed out after ${Math.round(timeoutMs / 1000)} s`
        : errLine
          ? JSON.parse(errLine.slice(8))
          : `exited with ${signal ?? code}${err ? `: ${err.trim().split('\n').slice(-5).join(' | ')}` : ''}`;
      resolve({ ok: false, error, ms });
    });
  });
}
