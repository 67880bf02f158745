/**
 * Calls fn, and runs `after` exactly once when fn is done: when it returns,
 * when it throws, or — if it returns a thenable — when that settles. Returns
 * what fn returned (the chained promise for a thenable). Used by both
 * backends' blocking(fn): the running slot is taken back whatever fn does.
 */
export function afterSettled<T>(fn: () => T, after: () => void): T {
  let result: T;
  try {
    result = fn();
  } catch (error) {
    after();
    throw error;
  }
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    return (result as unknown as PromiseLike<unknown>).then(
      (value) => {
        after();
        return value;
      },
      (error: unknown) => {
        after();
        throw error;
      },
    ) as T;
  }
  after();
  return result;
}
