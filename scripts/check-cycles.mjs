// No import cycles in src/, type imports included: `npm run lint` runs this after Biome.
// Reads every relative import and re-export of every src/**/*.ts (import, import type,
// export … from, dynamic import()), builds the graph of files, and prints each strongly
// connected component of more than one file (or a file that imports itself). Exit 1 if any.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const src = join(root, 'src');

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return /\.ts$/.test(name) && !/\.d\.ts$/.test(name) ? [path] : [];
  });
}

const SPEC = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;
const all = files(src);
const known = new Set(all);
const graph = new Map();
for (const file of all) {
  const text = readFileSync(file, 'utf8');
  const edges = new Set();
  for (const [, spec] of text.matchAll(SPEC)) {
    const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
    if (known.has(target)) edges.add(target);
    else if (known.has(join(target, 'index.ts'))) edges.add(join(target, 'index.ts'));
  }
  graph.set(file, edges);
}

// Tarjan's strongly connected components.
let index = 0;
const stack = [];
const onStack = new Set();
const idx = new Map();
const low = new Map();
const cycles = [];
function connect(v) {
  idx.set(v, index);
  low.set(v, index);
  index++;
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v)) {
    if (!idx.has(w)) {
      connect(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) {
      low.set(v, Math.min(low.get(v), idx.get(w)));
    }
  }
  if (low.get(v) === idx.get(v)) {
    const scc = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || graph.get(v).has(v)) cycles.push(scc);
  }
}
for (const v of graph.keys()) if (!idx.has(v)) connect(v);

if (cycles.length === 0) {
  console.log(`check-cycles: ${all.length} files in src/, no import cycle`);
  process.exit(0);
}
for (const scc of cycles) {
  const names = scc.map((f) => relative(root, f)).sort();
  console.error(`import cycle among ${names.length} files:`);
  for (const f of names) {
    const into = [...graph.get(join(root, f))].filter((t) => scc.includes(t)).map((t) => relative(root, t));
    console.error(`  ${f} -> ${into.join(', ')}`);
  }
}
process.exit(1);
