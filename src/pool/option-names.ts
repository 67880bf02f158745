/**
 * Unknown options: a TypeError naming the option and the nearest known one. In JavaScript a
 * misspelt option (or one from another pool library, such as `maxThreads`) would otherwise be
 * ignored without a word — the pool would run with a default the caller never chose.
 */

/** Names other pool libraries use, and what this pool calls them (the nearest name by spelling would mislead). */
const RENAMED: Readonly<Record<string, string>> = {
  maxThreads: 'threads',
  numWorkers: 'threads',
  workers: 'threads',
  size: 'threads',
  minWorkers: 'minThreads',
  maxWorkers: 'threads',
  closeTimeout: 'close({ timeout })',
  maxTasksPerWorker: 'maxTasksPerThread',
};

/**
 * A TypeError for the first own key of `options` (with a value other than undefined) not in
 * `known`, or undefined when there is none. `what` prefixes the message ("options", "run() options").
 */
export function unknownOptionError(what: string, options: object, known: readonly string[]): TypeError | undefined {
  for (const key of Object.keys(options)) {
    if (known.includes(key) || (options as Record<string, unknown>)[key] === undefined) continue;
    const hint = RENAMED[key] ?? nearest(key, known);
    return new TypeError(`${what}.${key} is not an option: ${hint === undefined ? `the options are ${known.join(', ')}` : `did you mean ${hint}?`}`);
  }
  return undefined;
}

/** The known name closest to `key` by edit distance (case-insensitive), if close enough to be a slip. */
function nearest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of known) {
    const d = distance(lower, name.toLowerCase());
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  // At most a third of the name wrong: further than that, a guess would confuse more than help.
  return bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

/** Edit distance counting a swap of two neighbouring letters as one edit (optimal string alignment). */
function distance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      row[j] = d;
    }
    before = prev;
    prev = row;
  }
  return prev[b.length]!;
}
