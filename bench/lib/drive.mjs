/** Ways of feeding a pool, shared by the pool scenarios. */

/**
 * Runs tasks 0..n-1 through run(), keeping `window` of them in flight (a new
 * one is submitted as each settles: the pipe is kept full without queueing
 * n promises at once). Checks every result is x + 1, so a pool that drops or
 * garbles work cannot post a number. Resolves with the elapsed ms.
 */
export function keepFull(run, n, window, start = 0) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let sent = 0;
    let done = 0;
    let sum = 0;
    let failed = false;
    const submit = () => {
      const x = start + sent++;
      run(x).then(onDone, onError);
    };
    const onDone = (r) => {
      sum += r;
      if (++done === n) {
        const expected = n * start + (n * (n - 1)) / 2 + n;
        if (sum !== expected) return reject(new Error(`results sum to ${sum}, expected ${expected}: tasks lost or wrong`));
        return resolve(performance.now() - t0);
      }
      if (sent < n) submit();
    };
    const onError = (e) => {
      if (!failed) reject(e);
      failed = true;
    };
    for (let i = 0, w = Math.min(window, n); i < w; i++) submit();
  });
}

/** One task at a time: each run() awaited before the next. Returns the per-call latencies in ns. */
export async function oneByOne(run, n) {
  const lat = new Float64Array(n);
  const now = process.hrtime.bigint;
  for (let i = 0; i < n; i++) {
    const t = now();
    const r = await run(i);
    lat[i] = Number(now() - t);
    if (r !== i + 1) throw new Error(`run(${i}) returned ${r}, expected ${i + 1}`);
  }
  return lat;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
