// The worker module of examples/http-server.mjs: every pool thread loads it. Rendering a page is
// the CPU work an HTTP server should not do on its event loop: here a report of `rows` rows, about
// a millisecond of JavaScript for the default size.
import { createHash } from 'node:crypto';
import { threadId } from 'node:worker_threads';

const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Renders the report page for `name`; returns what the server answers (the page itself stays here). */
export function render({ name, rows }) {
  const started = performance.now();
  const lines = [`<h1>Report for ${escapeHtml(name)}</h1>`, '<table>'];
  let total = 0;
  for (let i = 1; i <= rows; i++) {
    // A value per row that costs something to compute, as a real report's would.
    let value = 0;
    for (let k = 1; k <= 200; k++) value = (value * 31 + ((i * k) % 97)) % 1_000_003;
    total += value;
    lines.push(`<tr><td>${i}</td><td>${escapeHtml(name)}-${i}</td><td>${value.toLocaleString('en-US')}</td></tr>`);
  }
  lines.push('</table>');
  const html = lines.join('\n');
  return {
    name,
    rows,
    total,
    bytes: Buffer.byteLength(html),
    etag: createHash('sha256').update(html).digest('base64url').slice(0, 16),
    thread: threadId,
    ms: Number((performance.now() - started).toFixed(3)),
  };
}
