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

/**
 * Keeps `window` tasks in flight (a new one is submitted as each settles)
 * until at least `tasks` were submitted and `ms` have passed, then lets the
 * last ones settle. source.task(i) makes task i (a fresh value each time, as
 * an app makes them); source.check(result, task) says whether the result is
 * right, so a pool that drops or garbles work cannot post a number.
 * Resolves with { done, ms }. Time as well as a count: a fast subject
 * measured on a count alone would be timed over a few milliseconds, still
 * warming up (its JIT, its heap).
 */
export function keepFullFor(run, source, { tasks, ms, window }) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let sent = 0;
    let done = 0;
    let failed = false;
    let stopped = false;
    const submit = () => {
      const task = source.task(sent++);
      run(task).then((r) => onDone(r, task), onError);
    };
    const onDone = (r, task) => {
      if (failed) return;
      if (!source.check(r, task)) {
        failed = true;
        return reject(new Error(`task ${done}: wrong result`));
      }
      done++;
      if (!stopped && sent >= tasks && performance.now() - t0 >= ms) stopped = true;
      if (!stopped) submit();
      else if (done === sent) resolve({ done, ms: performance.now() - t0 });
    };
    const onError = (e) => {
      if (!failed) reject(e);
      failed = true;
    };
    for (let i = 0; i < window; i++) submit();
  });
}

/** The tiny task as a keepFullFor source: task i is i, its result must be i + 1. */
export const incSource = { task: (i) => i, check: (r, t) => r === t + 1 };

/**
 * One task at a time, as oneByOne, for at least `n` calls and `ms`
 * milliseconds. Returns the per-call latencies in ns (a Float64Array).
 */
export async function oneByOneFor(run, { n, ms }) {
  let lat = new Float64Array(Math.max(n, 1024));
  const now = process.hrtime.bigint;
  const t0 = performance.now();
  let i = 0;
  for (; i < n || performance.now() - t0 < ms; i++) {
    if (i === lat.length) {
      const grown = new Float64Array(lat.length * 2);
      grown.set(lat);
      lat = grown;
    }
    const t = now();
    const r = await run(i);
    lat[i] = Number(now() - t);
    if (r !== i + 1) throw new Error(`run(${i}) returned ${r}, expected ${i + 1}`);
  }
  return lat.subarray(0, i);
}
