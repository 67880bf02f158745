// The worker module: the pool's threads load it and run each job's handler here.
// A job named "fib" runs the `fib` export (createWorker picks the export by job.name);
// the default export is what a handlerName() returning undefined picks.

/** A CPU-bound job: naive Fibonacci, job.data = n (fib(30) takes some milliseconds). */
export function fib(n) {
  if (!Number.isInteger(n) || n < 0 || n > 40) throw new RangeError(`fib(${n}): n must be an integer from 0 to 40`);
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

export default fib;
