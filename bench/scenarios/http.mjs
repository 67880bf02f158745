/**
 * Scenario (12): an HTTP server that offloads its rendering. A node:http
 * server answers every request with a page it renders per request: an HTML
 * table of 350 rows from the request's data, gzipped, ≈ 1 ms of CPU
 * (bench/workers/app-tasks.mjs renderPage). Subjects:
 *
 *   iocp-pool, piscina  the rendering offloaded to a pool of 2 threads (run(data) → gzipped page)
 *   inline              no pool: the main thread renders, as a server does without one
 *
 * The load comes from autocannon in a process of its own
 * (bench/load-generator.mjs): 64 connections, a warm-up, then the measured
 * run. It takes CPU too, on the same cores: its share is in the table. The
 * server checks every page it sends (a gzip stream of the right size) and,
 * before the load starts, one page through and through (gunzipped: this
 * request's id and escaped data); any error, timeout or non-2xx answer fails
 * the measurement.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { ADAPTERS } from '../adapters/index.mjs';
import { mainThreadClock } from '../lib/cpu.mjs';
import { renderPage } from '../workers/app-tasks.mjs';

const THREADS = 2;
const ROWS = 350;
const GENERATOR = fileURLToPath(new URL('../load-generator.mjs', import.meta.url));

/** Runs the load generator; calls onMeasuring() when its measured run starts; resolves with its result. */
function generateLoad(spec, onMeasuring) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GENERATOR, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let result;
    child.stdout.on('data', (d) => {
      out += d;
      let nl;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line === '@@MEASURING') onMeasuring();
        else if (line.startsWith('@@RESULT ')) result = JSON.parse(line.slice(9));
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`load generator exited with ${code}: ${err.trim()}`))));
  });
}

export default {
  id: 'http',
  cases: ({ quick }) => {
    const params = { connections: 64, warmS: quick ? 0.3 : 1, durationS: quick ? 1 : 3, rows: ROWS };
    return [
      {
        id: 'http-render',
        group: 'workload',
        title: `(12) HTTP server rendering ≈ 1 ms per request (350-row HTML page, gzipped), 64 connections, 2 threads`,
        note: `node:http server; per request the page is rendered from fresh data (an HTML table of ${ROWS} rows, escaped, prices formatted, 38 KB, gzipped to 5 KB: ≈ 1 ms) by the pool (2 threads) or, in the "inline" row, by the main thread. autocannon in a separate process, ${params.connections} connections, ${params.warmS} s of warm-up then ${params.durationS} s measured; latency in whole ms (its histogram). The load generator shares the machine's cores with the server: its CPU is a column. Server CPU: the server process, every thread, per request. Each subject in a fresh process.`,
        subjects: [
          { id: 'iocp-pool', label: 'iocp-pool', kind: 'iocp', needsPool: true },
          { id: 'piscina', label: 'piscina', kind: 'peer' },
          { id: 'inline', label: 'inline (no pool, main thread)', kind: 'baseline' },
        ],
        compareTo: 'peer',
        metrics: [
          { key: 'rate', label: 'throughput', unit: 'req/s', better: 'higher' },
          { key: 'p99', label: 'latency p99', unit: 'ms', better: 'lower' },
          { key: 'cpuReq', label: 'server CPU per request', unit: 'µs', better: 'lower' },
          { key: 'gen', label: 'load generator CPU', unit: '% of a core', better: 'lower' },
        ],
        params,
        targets: [
          { metric: 'rate', label: 'HTTP render offload: req/s ≥ 1.1 × piscina', ratioAtLeast: 1.1, against: 'piscina' },
          { metric: 'p99', label: 'HTTP render offload: latency p99 ≤ piscina', ratioAtMost: 1, against: 'piscina' },
        ],
      },
    ];
  },

  async measure(_caseId, subject, { connections, warmS, durationS, rows }) {
    const render =
      subject === 'inline' ? async (task) => renderPage(task) : (await ADAPTERS[subject].create({ threads: THREADS, job: 'render' })).run;

    // One page through and through before the load: this request's own page, escaped, gzipped.
    const page = gunzipSync(await render({ id: 424242, user: 'user-<check>', rows, seed: 424242 })).toString();
    if (!page.includes('<h1>Request 424242</h1>') || !page.includes('Orders of user-&lt;check&gt;') || page.split('<tr').length !== rows + 1) {
      throw new Error(`the rendered page is wrong: ${page.slice(0, 200)}`);
    }

    let next = 0;
    let bad = 0;
    const server = http.createServer((_req, res) => {
      const id = ++next;
      render({ id, user: `user-${id % 1000}`, rows, seed: id }).then(
        (body) => {
          // A gzip stream (magic 1f 8b) of a plausible size; the full check above ran once.
          if (!(body instanceof Uint8Array) || body[0] !== 0x1f || body[1] !== 0x8b || body.byteLength < 1000) {
            bad++;
            res.writeHead(500).end();
            return;
          }
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-encoding': 'gzip', 'content-length': body.byteLength });
          res.end(body);
        },
        (e) => {
          bad++;
          res.writeHead(500).end(String(e));
        },
      );
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();

    const clock = mainThreadClock();
    let start;
    const load = await generateLoad({ url: `http://127.0.0.1:${port}/`, connections, warmS, durationS }, () => {
      start = { all: process.cpuUsage(), main: clock.read() };
    });
    const all = process.cpuUsage(start.all);
    const main = clock.read() - start.main;
    server.close();
    server.closeAllConnections();
    if (bad > 0 || load.errors > 0 || load.timeouts > 0 || load.non2xx > 0) {
      throw new Error(`${bad} bad pages, ${load.errors} errors, ${load.timeouts} timeouts, ${load.non2xx} non-2xx answers`);
    }
    return {
      rate: load.rate,
      p99: load.latency.p99,
      cpuReq: (all.user + all.system) / load.requests,
      gen: (load.cpuMs / (load.seconds * 1000)) * 100,
      info: { requests: load.requests, seconds: load.seconds, latency: load.latency, mainCpuPerReq: main / load.requests, clock: clock.source },
    };
  },
};
