/** What machine and software a run measured. */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export function machine() {
  const cpus = os.cpus();
  const v = (name) => {
    try {
      // Read the file: piscina's and poolifier's "exports" do not expose ./package.json to require().
      const file = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
      return `${name} ${JSON.parse(readFileSync(file, 'utf8')).version}`;
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
