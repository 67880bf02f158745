import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { ownStderr } from '../child-stderr.js';

// Asks V8 itself (natives syntax, in a child process whose workers inherit
// the flag): integers that crossed shared memory reach user code as small
// integers, not heap doubles.
it('hands integers to user code as small integers, through the port and the pool', () => {
  const script = fileURLToPath(new URL('./fixtures/smi-check.mjs', import.meta.url));
  const child = spawnSync(process.execPath, ['--allow-natives-syntax', script], { encoding: 'utf8', timeout: 30_000 });
  expect(ownStderr(child.stderr)).toBe('');
  expect(JSON.parse(child.stdout)).toEqual({ packetSmi: true, nonIntegersKept: true, taskIsSmi: true, resultIsSmi: true });
});
