// The worker module of examples/thumbnails.mjs: every pool thread loads it. Images are binary PGM
// files (P5: a text header, then one byte of gray per pixel), which any image viewer opens.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';

/** A PGM file's header and pixels. */
export function parsePgm(bytes) {
  const text = bytes.subarray(0, 64).toString('latin1');
  const m = /^P5\s+(\d+)\s+(\d+)\s+255\s/.exec(text);
  if (!m) throw new Error('not an 8-bit binary PGM image (P5)');
  const width = Number(m[1]);
  const height = Number(m[2]);
  const pixels = bytes.subarray(m[0].length, m[0].length + width * height);
  if (pixels.length !== width * height) throw new Error(`truncated: ${pixels.length} of ${width * height} pixels`);
  return { width, height, pixels };
}

export const pgm = (width, height, pixels) => Buffer.concat([Buffer.from(`P5\n${width} ${height}\n255\n`, 'latin1'), pixels]);

/** Writes a synthetic image to `path`: rings and a gradient, different for every seed. */
export async function generate({ path, width, height, seed }) {
  const pixels = Buffer.alloc(width * height);
  const cx = (width * ((seed * 7) % 10)) / 10;
  const cy = (height * ((seed * 3) % 10)) / 10;
  const period = 6 + seed;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const r = Math.sqrt((x - cx) ** 2 + (y - cy) ** 2);
      // Rings around (cx, cy): a triangle wave of the distance, plus a gradient.
      const ring = Math.abs(((r / period) % 2) - 1);
      pixels[y * width + x] = (40 + 170 * ring + (x + y) / 32) & 0xff;
    }
  }
  await writeFile(path, pgm(width, height, pixels));
  return width * height;
}

/**
 * The thumbnail of one image: a 3×3 box blur, then every 2×2 block averaged into one pixel (half
 * the width and height), written to `output`. Reports progress — rows of the thumbnail done, in
 * steps of 32 — and returns the thumbnail's size, mean gray and SHA-256.
 */
export async function thumbnail({ input, output }, { progress }) {
  const { width, height, pixels } = parsePgm(await readFile(input));
  const tw = width >> 1;
  const th = height >> 1;
  const out = Buffer.alloc(tw * th);
  // The 3×3 sums of one row of the image (edges repeat their border pixel), for rows y and y + 1.
  const above = new Uint16Array(width);
  const below = new Uint16Array(width);
  const rowSums = (y, into) => {
    for (let x = 0; x < width; x++) {
      const l = x === 0 ? 0 : x - 1;
      const r = x === width - 1 ? x : x + 1;
      let sum = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const row = Math.min(height - 1, Math.max(0, y + dy)) * width;
        sum += pixels[row + l] + pixels[row + x] + pixels[row + r];
      }
      into[x] = sum;
    }
  };
  let total = 0;
  let reported = 0;
  for (let ty = 0; ty < th; ty++) {
    rowSums(2 * ty, above);
    rowSums(2 * ty + 1, below);
    for (let tx = 0; tx < tw; tx++) {
      const x = 2 * tx;
      // The mean of four blurred pixels: four 3×3 sums, each over 9.
      const value = Math.round((above[x] + above[x + 1] + below[x] + below[x + 1]) / 36);
      out[ty * tw + tx] = value;
      total += value;
    }
    if ((ty + 1) % 32 === 0 || ty + 1 === th) {
      progress(ty + 1 - reported);
      reported = ty + 1;
    }
  }
  await writeFile(output, pgm(tw, th, out));
  return { width: tw, height: th, mean: total / (tw * th), sha256: createHash('sha256').update(out).digest('hex') };
}
