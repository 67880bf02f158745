/** Command-line flags of bench/index.mjs. */
export const USAGE = `usage: node bench/index.mjs [--quick] [--runs N] [--only ID[,ID…]] [--list] [--docs | --no-docs] [--report]
  --quick        small sizes and 2 runs (the CI smoke test); says so in the output
  --runs N       repetitions per subject (default 5, quick 2)
  --only IDs     scenarios or cases to run, by id (see --list)
  --list         print the scenario and case ids and exit
  --docs         write docs/benchmarks.md even for a quick or partial run
  --no-docs      do not write docs/ (default for --quick and --only)
  --report       measure nothing: write docs/benchmarks.md and README.md's numbers again from docs/bench/results.json`;

export function parseArgs(argv) {
  const o = { quick: false, runs: undefined, only: null, list: false, docs: undefined, report: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--runs') {
      o.runs = Number(value());
      if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error(`--runs must be a positive integer\n${USAGE}`);
    } else if (a.startsWith('--runs=')) o.runs = Number(a.slice(7));
    else if (a === '--only') o.only = value().split(',');
    else if (a.startsWith('--only=')) o.only = a.slice(7).split(',');
    else if (a === '--list') o.list = true;
    else if (a === '--docs') o.docs = true;
    else if (a === '--no-docs') o.docs = false;
    else if (a === '--report') o.report = true;
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown flag ${a}\n${USAGE}`);
  }
  o.runs ??= o.quick ? 2 : 5;
  o.docs ??= !o.quick && o.only === null;
  return o;
}
