import { describe, expect, it } from 'vitest';
import { SpinPolicy } from '../../../src/pool/main/spin-policy.js';

/** Feeds n round trips of ms each; returns how many times the mode changed. */
function feed(policy: SpinPolicy, n: number, ms: number | ((mode: number) => number)): number {
  let changes = 0;
  for (let i = 0; i < n; i++) if (policy.sample(typeof ms === 'number' ? ms : ms(policy.mode))) changes++;
  return changes;
}

describe('SpinPolicy (spin or sleep for one-at-a-time run())', () => {
  it('starts spinning, tries sleeping after 16 epochs of 256, and keeps sleeping when that is faster', () => {
    const policy = new SpinPolicy();
    expect(policy.mode).toBe(1);
    const rt = (mode: number): number => (mode === 1 ? 0.05 : 0.015); // spinning is slower (a loaded machine)
    expect(feed(policy, 16 * 256 - 1, rt)).toBe(0);
    expect(policy.mode).toBe(1);
    expect(feed(policy, 1, rt)).toBe(1); // the trial starts
    expect(policy.mode).toBe(0);
    expect(feed(policy, 256, rt)).toBe(0); // the trial won: no change back
    expect(policy.mode).toBe(0);
  });

  it('goes back after a trial that was not clearly faster', () => {
    const policy = new SpinPolicy();
    const rt = (mode: number): number => (mode === 1 ? 0.001 : 0.015); // spinning is faster (an idle machine)
    feed(policy, 16 * 256, rt);
    expect(policy.mode).toBe(0); // trying
    expect(feed(policy, 256, rt)).toBe(1);
    expect(policy.mode).toBe(1);
    // Equal times: a trial needs a 10 % win, so the mode stays put across trials.
    const flat = new SpinPolicy();
    feed(flat, 10 * 17 * 256, 0.01);
    expect(flat.mode).toBe(1);
  });
});
