/** The work every library runs: the same two functions, so only the pool differs. */

/** The tiny task: x → x + 1. */
export function inc(x) {
  return x + 1;
}

/** The CPU task: naive recursive Fibonacci (fib(27) ≈ 1–3 ms here). */
export function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/** The payload task: the result is the task (echo), so both directions carry it. */
export function echo(x) {
  return x;
}
