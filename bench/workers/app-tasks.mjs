/**
 * The work of the application-shaped scenarios (async handlers, an open loop,
 * an HTTP server), the same functions for every library. Each task is a fresh
 * object made by the caller, and each result carries what the caller needs
 * to check it cheaply (the main thread's CPU is part of what is measured).
 */
import { readFile } from 'node:fs/promises';
import { threadId } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';

/**
 * Fixed CPU work: `n` rounds of an integer hash, seeded. Fixed work, not a
 * clock (a spin "for 20 ms" would finish on time however little CPU a loaded
 * machine gives it); about 1.9 ns a round on the machine of docs/benchmarks.md,
 * so 10,500,000 rounds ≈ 20 ms. The result is the hash, so the work is not
 * optimised away and a caller can check it.
 */
export function spin(n, seed) {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < n; i++) {
    h ^= i;
    h = Math.imul(h, 0x01000193);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/** An async handler as apps write them: read a (small) file, then compute. Says which thread ran it. */
export async function readThenSpin({ i, file, n, seed }) {
  const text = await readFile(file, 'utf8');
  return { i, threadId, bytes: text.length, h: spin(n, seed) };
}

/**
 * Pure I/O: wait `ms` (a timer standing for a database or HTTP call), compute nothing.
 * An `async function`, not a function returning a promise: poolifier tells them apart by their kind.
 */
export async function sleepThenEcho({ i, ms }) {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { i, threadId };
}

/** A short CPU task (the open loop's): `n` rounds of spin. */
export function spinTask({ i, n, seed }) {
  return { i, h: spin(n, seed) };
}

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]);
// Made once per thread, as a template engine keeps its formatters; on first use, not at import:
// the first NumberFormat loads ICU's data (≈ 100 ms), which the threads of the other scenarios need not pay.
let usd;
const dollars = (x) => (usd ??= new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' })).format(x);

/**
 * What a web server renders per request: an HTML page of `rows` table rows
 * (text escaped, prices formatted) from the request's data, gzipped. 350
 * rows: a 38 KB page, 5 KB gzipped, ≈ 1 ms on the machine of
 * docs/benchmarks.md (about half rendering, half gzip).
 */
export function renderPage({ id, user, rows, seed }) {
  let html = `<!doctype html><html><head><title>Orders of ${escapeHtml(user)}</title></head><body><h1>Request ${id}</h1><table>\n`;
  let h = seed >>> 0;
  for (let i = 0; i < rows; i++) {
    h = Math.imul(h ^ i, 0x01000193) >>> 0;
    const cls = i & 1 ? 'odd' : 'even';
    html += `<tr class="${cls}"><td>${i + 1}</td><td>${escapeHtml(`Item "${h.toString(36)}" <${user}> & co`)}</td><td>${dollars((h % 100000) / 100)}</td></tr>\n`;
  }
  return gzipSync(`${html}</table></body></html>\n`);
}
