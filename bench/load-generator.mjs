/**
 * The HTTP scenario's load generator, a process of its own (it takes CPU
 * too, and must not share the server's event loop):
 *
 *   node bench/load-generator.mjs '{"url":…,"connections":64,"warmS":1,"durationS":3}'
 *
 * Runs autocannon against the url for warmS seconds (the warm-up), prints
 * `@@MEASURING` (the server starts its CPU clocks), runs it again for
 * durationS seconds, and prints `@@RESULT <json>`: requests, req/s, latency
 * percentiles (ms, autocannon's histogram: whole milliseconds), errors, and
 * the CPU this process used during the measured run.
 */
import autocannon from 'autocannon';

const { url, connections, warmS, durationS } = JSON.parse(process.argv[2]);

const blast = (duration) =>
  new Promise((resolve, reject) => {
    autocannon({ url, connections, duration }, (err, result) => (err ? reject(err) : resolve(result)));
  });

await blast(warmS);
process.stdout.write('@@MEASURING\n');
const cpu0 = process.cpuUsage();
const r = await blast(durationS);
const cpu = process.cpuUsage(cpu0);
const result = {
  requests: r.requests.total,
  seconds: r.duration,
  rate: r.requests.total / r.duration,
  latency: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.mean },
  errors: r.errors,
  timeouts: r.timeouts,
  non2xx: r.non2xx,
  cpuMs: (cpu.user + cpu.system) / 1000,
};
process.stdout.write(`@@RESULT ${JSON.stringify(result)}\n`);
