// An HTTP server that offloads its CPU work to a pool: node:http takes the requests on the main
// thread, and every page is rendered on a pool thread (examples/http-server-render.mjs), so the
// event loop stays free to accept and answer while pages render.
//
//   node examples/http-server.mjs                 listens on PORT from the environment, default 3000
//   curl 'http://localhost:3000/render?name=Ada&rows=400'
//   curl http://localhost:3000/stats
//
// GET /render?name=…&rows=… answers the rendered page's summary as JSON (rows: 1 to 5000,
// default 400: about a millisecond of rendering); GET /stats answers the pool's stats(). A render
// that takes longer than a second answers 503. SIGINT or SIGTERM stops the server: it stops
// accepting, answers what it took, then closes the pool.
import http from 'node:http';
import { ThreadPool } from 'iocp-pool';

const pool = new ThreadPool({ filename: new URL('./http-server-render.mjs', import.meta.url) });

/** Answers `body` as JSON with `status`. */
function send(res, status, body) {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

async function handle(req, res) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method !== 'GET') return send(res, 405, { error: 'only GET' });
  if (url.pathname === '/stats') {
    const { threads, completed, failed, queued, runTime } = pool.stats();
    return send(res, 200, { threads, completed, failed, queued, runTime });
  }
  if (url.pathname !== '/render') return send(res, 404, { error: `no route ${url.pathname}: try /render?name=Ada or /stats` });
  const name = url.searchParams.get('name') ?? 'world';
  const rows = Number(url.searchParams.get('rows') ?? 400);
  if (!Number.isInteger(rows) || rows < 1 || rows > 5000) return send(res, 400, { error: 'rows must be an integer from 1 to 5000' });
  try {
    // The CPU work happens on a pool thread; this thread only waits for the promise.
    const page = await pool.run({ name, rows }, { name: 'render', timeout: 1000 });
    send(res, 200, page);
  } catch (error) {
    send(res, error.name === 'TimeoutError' ? 503 : 500, { error: error.message });
  }
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => send(res, 500, { error: error.message }));
});

const port = Number(process.env.PORT ?? 3000);
server.listen(port, () => {
  console.log(`listening on http://localhost:${server.address().port} — try /render?name=Ada (${pool.threads} pool threads)`);
});

async function stop(signal) {
  console.log(`${signal}: closing`);
  // Stop accepting and wait for the requests already taken to be answered (their renders run
  // on); a client that holds its connection open longer than five seconds is cut off.
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  const deadline = setTimeout(() => server.closeAllConnections(), 5000);
  await closed;
  clearTimeout(deadline);
  await pool.close(); // nothing is queued any more: the threads exit
  console.log('closed');
}
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
