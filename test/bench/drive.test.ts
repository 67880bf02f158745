// The bench's drivers and clocks: a driver that lost a wrong result, or a clock that counted the
// pool's threads as the main thread's, would post numbers the pool did not earn.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { startBusyLoops } from '../../bench/lib/busy.mjs';
import { mainThreadClock, statCpuMicros } from '../../bench/lib/cpu.mjs';
import { incSource, keepFullFor, oneByOneFor } from '../../bench/lib/drive.mjs';
import { asMeasured } from '../../bench/lib/stored.mjs';

describe('keepFullFor', () => {
  it('keeps the window full until both the count and the time are reached, checking every result', async () => {
    let inFlight = 0;
    let most = 0;
    const run = async (x: number) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return x + 1;
    };
    const r = await keepFullFor(run, incSource, { tasks: 500, ms: 20, window: 16 });
    expect(r.done).toBeGreaterThanOrEqual(500);
    expect(r.ms).toBeGreaterThanOrEqual(20);
    expect(most).toBe(16);
  });

  it('rejects on the first wrong result', async () => {
    const run = async (x: number) => (x === 37 ? x : x + 1);
    await expect(keepFullFor(run, incSource, { tasks: 100, ms: 0, window: 8 })).rejects.toThrow(/wrong result/);
  });
});

describe('oneByOneFor', () => {
  it('runs one call at a time for at least n calls and returns one latency per call', async () => {
    let inFlight = 0;
    const run = async (x: number) => {
      expect(++inFlight).toBe(1);
      await null;
      inFlight--;
      return x + 1;
    };
    const lat = await oneByOneFor(run, { n: 3000, ms: 0 });
    expect(lat.length).toBe(3000);
    expect(lat.every((ns) => ns > 0)).toBe(true);
  });

  it('throws on a wrong result', async () => {
    await expect(oneByOneFor(async (x: number) => x, { n: 5, ms: 0 })).rejects.toThrow(/returned 0, expected 1/);
  });
});

describe.runIf(process.platform === 'linux')('the main-thread CPU clock', () => {
  it("counts the main thread's CPU and not a worker's", async () => {
    const clock = mainThreadClock();
    expect(clock.source).not.toBeNull();
    const main0 = clock.read();
    const all0 = process.cpuUsage();
    // Fixed work on a worker (≈ 0.2 s of CPU however loaded the machine) while the main thread waits for its exit.
    const worker = new Worker(
      'let h = 1; for (let i = 0; i < 1e8; i++) h = Math.imul(h ^ i, 16777619); require("worker_threads").parentPort.postMessage(h);',
      {
        eval: true,
      },
    );
    await new Promise((resolve) => worker.once('message', resolve));
    await worker.terminate();
    const all = process.cpuUsage(all0);
    const main = clock.read() - main0;
    const allMicros = all.user + all.system;
    expect(allMicros).toBeGreaterThan(100_000);
    expect(main).toBeLessThan(allMicros / 2);
  });

  it('reads utime + stime of /proc in µs, in step with the finer clock', () => {
    const clock = mainThreadClock();
    const stat0 = statCpuMicros();
    const fine0 = clock.read();
    let h = 1;
    while (clock.read() - fine0 < 100_000) for (let i = 0; i < 1e5; i++) h = Math.imul(h ^ i, 16777619);
    const stat = statCpuMicros() - stat0;
    const fine = clock.read() - fine0;
    expect(h).not.toBe(0.5);
    // Ticks of 10 ms (CLK_TCK 100): within two ticks and 20 % of the fine clock.
    expect(Math.abs(stat - fine)).toBeLessThan(20_000 + fine * 0.2);
  });
});

describe('busy loops (the loaded-machine scenario)', () => {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('spin until stopped, then are gone', async () => {
    const load = await startBusyLoops(2);
    expect(load.pids.every(alive)).toBe(true);
    await load.stop();
    expect(load.pids.some(alive)).toBe(false);
  });

  it('exit by themselves when the process that started them is killed', async () => {
    const { spawn } = await import('node:child_process');
    const busy = new URL('../../bench/lib/busy.mjs', import.meta.url).href;
    const parent = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const l = await (await import(${JSON.stringify(busy)})).startBusyLoops(1); console.log(l.pids[0]); setInterval(() => {}, 1000);`,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d) => resolve(String(d).trim()))));
    expect(alive(pid)).toBe(true);
    parent.kill('SIGKILL');
    // Each loop checks its parent every 50 ms: poll until it has gone (the test's timeout bounds the wait).
    while (alive(pid)) await new Promise((r) => setTimeout(r, 20));
    expect(alive(pid)).toBe(false);
  });
});

describe('asMeasured (a stored run of a case that has changed since)', () => {
  const def = { id: 'c', title: 'now', note: 'how it is measured now' };

  it('is the case itself while the title is the same', () => {
    expect(asMeasured(def, { title: 'now' })).toBe(def);
    expect(asMeasured(def, {})).toBe(def);
  });

  it('keeps the title the run measured and says the figures predate the change', () => {
    const old = asMeasured({ ...def, params: { n: 2 } }, { title: 'before', params: { n: 1 } });
    expect(old.title).toBe('before');
    expect(old.params).toEqual({ n: 1 });
    expect(old.note).toMatch(/Measured before this case changed.*now\.$/);
  });
});
