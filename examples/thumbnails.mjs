// A CPU-heavy batch on a pool: a thumbnail of every image in a directory, with a progress bar.
//
//   node examples/thumbnails.mjs [dir]
//
// dir holds binary PGM images (.pgm, 8-bit gray: the simplest image format, which any viewer
// opens). A directory with none — or no argument: a new temporary one — first gets 16 generated
// images of 800×600, made on the pool too. The thumbnails (3×3 blur, half size) go to
// dir/thumbnails/. Each pool thread reads its image, computes, writes the thumbnail and reports
// its rows as it goes (context.progress → run()'s onProgress), which the bar sums up.
import { mkdir, mkdtemp, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ThreadPool } from 'iocp-pool';

const dir = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'thumbnails-')));
const pool = new ThreadPool({ filename: new URL('./thumbnails-worker.mjs', import.meta.url) });

await mkdir(join(dir, 'thumbnails'), { recursive: true });
let images = (await readdir(dir)).filter((name) => name.endsWith('.pgm')).sort();
if (images.length === 0) {
  const t0 = performance.now();
  images = Array.from({ length: 16 }, (_, i) => `image-${String(i + 1).padStart(2, '0')}.pgm`);
  await Promise.all(images.map((name, seed) => pool.run({ path: join(dir, name), width: 800, height: 600, seed }, { name: 'generate' })));
  console.log(`generated ${images.length} images of 800×600 in ${dir} (${(performance.now() - t0).toFixed(0)} ms)`);
}

// The bar counts thumbnail rows: half of each image's height, read from its header.
const heights = await Promise.all(images.map((name) => imageHeight(join(dir, name))));
const bar = progressBar(heights.reduce((sum, h) => sum + (h >> 1), 0));
const t0 = performance.now();
const results = await Promise.all(
  images.map((name) =>
    pool.run({ input: join(dir, name), output: join(dir, 'thumbnails', name) }, { name: 'thumbnail', onProgress: (rows) => bar.add(rows) }),
  ),
);
const ms = performance.now() - t0;
bar.end();

for (const [i, r] of results.entries())
  console.log(`${images[i]}  ${r.width}×${r.height}  mean ${r.mean.toFixed(1).padStart(5)}  sha256 ${r.sha256.slice(0, 16)}`);
const bytes = (await Promise.all(images.map((name) => stat(join(dir, name))))).reduce((sum, s) => sum + s.size, 0);
console.log(
  `${images.length} thumbnails in ${join(dir, 'thumbnails')}: ${(bytes / 1e6).toFixed(1)} MB of images in ${ms.toFixed(0)} ms on ${pool.threads} threads`,
);
await pool.close();

/** The height in a PGM header (the first 64 bytes hold it). */
async function imageHeight(path) {
  const { open } = await import('node:fs/promises');
  const file = await open(path);
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(64), 0, 64, 0);
    const m = /^P5\s+\d+\s+(\d+)\s/.exec(buffer.subarray(0, bytesRead).toString('latin1'));
    if (!m) throw new Error(`${path}: not a binary PGM image (P5)`);
    return Number(m[1]);
  } finally {
    await file.close();
  }
}

/**
 * A progress bar on stdout: redrawn in place on a terminal; elsewhere (a pipe, a log) one line
 * each time another tenth is done.
 */
function progressBar(total) {
  let done = 0;
  let printed = -1;
  const draw = () => {
    const fraction = total === 0 ? 1 : done / total;
    const width = 30;
    const filled = Math.round(fraction * width);
    return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)} %  ${done}/${total} rows`;
  };
  return {
    add(rows) {
      done += rows;
      if (process.stdout.isTTY) process.stdout.write(`\r${draw()}`);
      else if (Math.floor((10 * done) / total) > printed) {
        printed = Math.floor((10 * done) / total);
        console.log(draw());
      }
    },
    end() {
      if (process.stdout.isTTY) process.stdout.write('\n');
    },
  };
}
