// examples/thumbnails.mjs: a CPU-heavy batch on a pool — thumbnails of a directory of images, with
// a progress bar fed by onProgress — run as a user runs it, its output checked pixel by pixel.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const PROGRAM = fileURLToPath(new URL('../../examples/thumbnails.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'iocp-pool-thumbnails-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PROGRAM, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A binary PGM's size and pixels. */
function readPgm(path: string): { width: number; height: number; pixels: Buffer } {
  const bytes = readFileSync(path);
  const m = /^P5\n(\d+) (\d+)\n255\n/.exec(bytes.subarray(0, 32).toString('latin1'));
  if (!m) throw new Error(`${path}: not a PGM`);
  return { width: Number(m[1]), height: Number(m[2]), pixels: bytes.subarray(m[0].length) };
}

/** The thumbnail the example promises, computed here pixel by pixel: 3×3 box blur (edges repeated), then 2×2 means. */
function expectedThumbnail({ width, height, pixels }: { width: number; height: number; pixels: Buffer }): Buffer {
  const clamp = (v: number, max: number) => Math.min(max - 1, Math.max(0, v));
  const sum3x3 = (x: number, y: number) => {
    let sum = 0;
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) sum += pixels[clamp(y + dy, height) * width + clamp(x + dx, width)]!;
    return sum;
  };
  const tw = width >> 1;
  const th = height >> 1;
  const out = Buffer.alloc(tw * th);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const s = sum3x3(2 * x, 2 * y) + sum3x3(2 * x + 1, 2 * y) + sum3x3(2 * x, 2 * y + 1) + sum3x3(2 * x + 1, 2 * y + 1);
      out[y * tw + x] = Math.round(s / 36);
    }
  }
  return out;
}

describe('examples/thumbnails.mjs (a batch of images on the pool, with a progress bar)', () => {
  it('generates 16 images into an empty directory, writes their thumbnails, and draws the bar from onProgress up to 100 %', async () => {
    const { code, stdout, stderr } = await run();
    const what = `--- stdout\n${stdout}--- stderr\n${stderr}`;
    expect(code, what).toBe(0);
    expect(stderr, what).toBe('');
    expect(stdout, what).toContain(`generated 16 images of 800×600 in ${dir}`);
    // Not a terminal: one line per tenth, the last one complete.
    const bars = stdout.split('\n').filter((line) => line.startsWith('['));
    expect(bars.length, what).toBeGreaterThanOrEqual(10);
    expect(bars.at(-1), what).toBe(`[${'#'.repeat(30)}] 100 %  4800/4800 rows`);
    expect(stdout, what).toMatch(/16 thumbnails in .*: 7\.7 MB of images in \d+ ms on \d+ threads/);

    const images = readdirSync(dir).filter((f) => f.endsWith('.pgm'));
    expect(images).toHaveLength(16);
    expect(readdirSync(join(dir, 'thumbnails')).sort()).toEqual(images.sort());
    for (const name of [images[0]!, images[9]!]) {
      const image = readPgm(join(dir, name));
      expect([image.width, image.height]).toEqual([800, 600]);
      const thumb = readPgm(join(dir, 'thumbnails', name));
      expect([thumb.width, thumb.height]).toEqual([400, 300]);
      expect(thumb.pixels.equals(expectedThumbnail(image)), `${name}: every pixel of its thumbnail`).toBe(true);
    }
  }, 60_000);

  it('takes the images already in the directory the second time: it generates none', async () => {
    const { code, stdout } = await run();
    expect(code).toBe(0);
    expect(stdout).not.toContain('generated');
    expect(stdout).toContain('16 thumbnails in');
  }, 60_000);
});
