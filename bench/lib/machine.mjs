/** What machine and software a run measured. */
import os from 'node:os';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function machine() {
  const cpus = os.cpus();
  const v = (name) => {
    try {
      return `${name} ${require(`${name}/package.json`).version}`;
    } catch {
      return `${name} (not installed)`;
    }
  };
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    parallelism: os.availableParallelism(),
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.versions.node,
    v8: process.versions.v8,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    loadStart: os.loadavg()[0].toFixed(2),
    loadEnd: null,
    versions: ['piscina', 'tinypool', 'workerpool', 'poolifier'].map(v).join(', '),
  };
}

export const load1 = () => os.loadavg()[0];
