// Helpers shared by the stress scenarios: a seeded generator, agents
// (worker threads running stress/agent.mjs), handshakes with a time box,
// and the summary line.
import { Worker } from 'node:worker_threads';

export const libUrl = new URL('../dist/index.js', import.meta.url).href;
const AGENT = new URL('./agent.mjs', import.meta.url);

/** mulberry32: a small seeded generator, so a failing run can be repeated with its seed. */
export function random(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (n) => Math.floor(next() * n);
  next.pick = (list) => list[Math.floor(next() * list.length)];
  return next;
}

// Control words shared by a scenario and its agents.
export const C_DONE = 0; // packets taken by consumers
export const C_STOP = 1; // 1: producers stop
export const C_CURSOR = 16; // C_CURSOR + i: next key producer i will try (written before each post)

export function newControl() {
  return new Int32Array(new SharedArrayBuffer(256 * 4));
}

/** Starts an agent; `done` resolves with its report, `exit` with its exit code. */
export function spawn(role, data) {
  const worker = new Worker(AGENT, { workerData: { role, libUrl, ...data } });
  const threadId = worker.threadId;
  let report;
  const done = new Promise((resolve, reject) => {
    report = { resolve, reject };
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  done.catch(() => {});
  const exit = new Promise((resolve) => worker.once('exit', resolve));
  exit.then((code) => report.reject(new Error(`agent ${role} exited with ${code} before reporting`)));
  return { worker, threadId, role, done, exit };
}

export class Hang extends Error {}

/** Polls until pred() holds; throws Hang after limitMs. */
export async function until(pred, what, limitMs) {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > limitMs) throw new Hang(`timed out after ${limitMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** A promise, or Hang after limitMs. */
export function within(promise, what, limitMs) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Hang(`timed out after ${limitMs} ms: ${what}`)), limitMs);
    }),
  ]);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en') : n);

/** One summary line: name, seed, volume, lost, duplicated, hangs, then the scenario's own figures. */
export function summary(r) {
  const extra = r.extra ? `  (${r.extra})` : '';
  return (
    `${r.name.padEnd(8)} seed=${r.seed}  volume=${fmt(r.volume)} ${r.unit}  lost=${fmt(r.lost)}  duplicated=${fmt(r.duplicated)}  ` +
    `hangs=${fmt(r.hangs)}  ${r.ok ? 'ok' : 'FAILED'}  ${(r.ms / 1000).toFixed(1)} s${extra}`
  );
}

/** The built library (npm run build first). */
export function loadLib() {
  return import(libUrl);
}
