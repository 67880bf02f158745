// Exact claim ownership (layout.ts I8): a live thread stopped between
// claiming a ring position and finishing it — as a preempted or ptrace'd
// thread is — is waited for, never taken for dead. The thread is the main
// thread of a child process, paused at a breakpoint inside post() or get()
// by a debugger in one of its workers (fixtures/stall.mjs), which acts on the
// port meanwhile — including killing a thread inside close().
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const FIXTURE = fileURLToPath(new URL('./fixtures/stall.mjs', import.meta.url));
const libUrl = new URL('../../dist/index.js', import.meta.url).href;

interface Outcome {
  returned?: unknown;
  threw?: string;
}

interface Report {
  error?: string;
  paused: Outcome;
  seen: { closed?: unknown; released?: { deferred: boolean }; took?: number[]; threw?: string; ms: number };
  after: number[];
  rest: Outcome;
}

function stall(scenario: string): Promise<Report> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [FIXTURE, scenario, libUrl], { timeout: 30_000 }, (error, stdout) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (error && !line) return reject(error);
      try {
        const report = JSON.parse(line) as Report;
        if (report.error) return reject(new Error(report.error));
        resolve(report);
      } catch {
        reject(new Error(`stall ${scenario}: no report (${String(error ?? stdout)})`));
      }
    });
  });
}

describe('CompletionPort claim ownership: a stopped live thread (portable backend)', () => {
  it('close() does not skip a position a live poster claimed: the post either gets its packet returned by close() or throws PortClosedError', async () => {
    const r = await stall('close');
    expect(r.seen.threw).toBeUndefined();
    const returned = r.seen.closed as number[];
    expect(returned.filter((k) => k !== 99)).toEqual([0, 1, 2]);
    if (r.paused.returned === true) expect(returned, 'post() returned true: close() must have returned its packet').toContain(99);
    else expect(r.paused.threw, 'post() neither returned true nor threw PortClosedError').toBe('PortClosedError');
    expect(r.after).toEqual([]);
  });

  it("releaseThread() of another thread leaves a stopped live poster's claim alone: its packet arrives, once, and the ring keeps working", async () => {
    const r = await stall('release');
    expect(r.seen.threw).toBeUndefined();
    expect(r.seen.released?.deferred).toBe(false);
    expect(r.paused.returned).toBe(true);
    // Key 0 was taken by the released thread before it exited.
    expect([...r.seen.took!, ...r.after]).toEqual([1, 2, 99]);
    expect(r.rest.returned).toBe('ok');
  });

  it('a close() cut short by a thread killed inside it is finished by releaseThread(): the queued packets come back, the waiter wakes, the stopped post is not lost', async () => {
    const r = await stall('closer');
    const seen = r.seen as Report['seen'] & { lockHeld: boolean; abandoned: number[]; closed: boolean; waiter: unknown };
    expect(seen.threw).toBeUndefined();
    expect(seen.lockHeld, 'the closer was killed inside close(), holding the lock').toBe(true);
    // Key 0 was taken by main before; 1 and 2 were queued. 99 is main's stopped post.
    const returned = seen.abandoned;
    expect(returned.filter((k) => k !== 99)).toEqual([1, 2]);
    if (r.paused.returned === true) expect(returned, 'post() returned true: its packet must come back').toContain(99);
    else expect(r.paused.threw).toBe('PortClosedError');
    expect(seen.closed).toBe(true);
    expect(seen.waiter).toEqual({ threw: 'PortClosedError' });
  });

  it('a packet put back in FRONT while a running thread is in the middle of get() goes first: the get returns it, not the next one in the ring', async () => {
    const r = await stall('front');
    expect(r.seen.threw).toBeUndefined();
    expect((r.paused.returned as { completionKey: number }).completionKey).toBe(100);
    expect(r.after).toEqual([101, 102]);
    expect(r.rest.returned).toBe('ok');
  });
});
