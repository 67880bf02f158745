/**
 * The result loop on the main thread: it runs while tasks are in flight.
 *
 * Pool threads post one packet per finished task on the result port
 * (status, ticket, slot). The loop takes one with a getAsync wake-up, then
 * everything that queued meanwhile with getMany(…, 0), resolves the whole
 * batch, lets the callers' continuations run (they submit more), repeats —
 * many promises per wake-up. When only a few tasks are in flight it may first
 * spin on the arena's result counter (A_RESULTS), because a wake-up costs
 * more than a tiny task's round trip (see spin-policy.ts for when it spins).
 */
import { type CompletionPacket, type CompletionPort, PortClosedError } from '../../port/index.js';
import { recordToError, type ThrownRecord } from '../../codec/error-record.js';
import { WorkerDiedError } from '../errors.js';
import { Reservoir } from './reservoir.js';
import {
  A_RESULTS,
  A_SPIN,
  F_PROGRESS,
  FREE,
  F_TIMED,
  R_CANCELLED,
  R_ERROR,
  R_ERROR_MESSAGE,
  R_OK,
  R_OK_MESSAGE,
  slotWord,
  T_FLAGS,
  T_OWNER,
  T_RUN,
  T_START,
  T_STATE,
  T_TICKET,
} from '../layout.js';
import { SpinPolicy } from './spin-policy.js';
import type { ResultChannel } from './channel.js';
import type { Carried } from '../../codec/carried.js';
import type { SlotCodec } from '../../codec/slot-codec.js';
import type { TaskTable } from './tasks.js';

const MISSING = Symbol('missing');

/** Result packets taken per getMany: enough to amortize a wake-up, small enough to keep latency even. */
const DRAIN_BATCH = 256;
/** The loop yields to the event loop at least this often (ms), so timers and I/O are never starved. */
const YIELD_MS = 4;
/** Longest the main thread spins waiting for an imminent result (ms): well under anything noticeable. */
const SPIN_MAX_MS = 0.05;
/** Shortest: still catches a result from a thread that is spinning too (a round trip is ~1 µs, a loaded one more). */
const SPIN_MIN_MS = 0.01;

/** What the loop needs from the pool around it. */
export interface DrainHooks {
  /** The result channel of pool thread `workerId` (alive or recently exited), for a result sent by message. */
  resultChannel(workerId: number): ResultChannel | undefined;
  /** After each batch: slots were freed (move the backlog in). */
  afterBatch(): void;
  /** The loop stopped: nothing in flight (or the port closed). */
  idle(): void;
  /** A packet that breaks an invariant (a slot index out of range). */
  corrupt(error: Error): void;
}

export class ResultDrain {
  readonly #port: CompletionPort;
  readonly #tasks: TaskTable;
  readonly #arena: SlotCodec;
  readonly #i32: Int32Array;
  readonly #concurrency: number;
  readonly #hooks: DrainHooks;
  #running = false;
  /** Current spin budget (ms), adapted by #spin: doubled on a hit, halved on a miss. */
  #spinBudget = SPIN_MAX_MS;
  /** Spin or sleep for one-at-a-time run(), by measurement (spin-policy.ts). */
  readonly policy = new SpinPolicy();
  /** Sampled ms handlers ran, and ms tasks waited between run() and their start. */
  readonly runTime = new Reservoir();
  readonly waitTime = new Reservoir();

  constructor(port: CompletionPort, tasks: TaskTable, arena: SlotCodec, concurrency: number, hooks: DrainHooks) {
    this.#port = port;
    this.#tasks = tasks;
    this.#arena = arena;
    this.#i32 = arena.i32;
    this.#concurrency = concurrency;
    this.#hooks = hooks;
    this.#i32[A_SPIN] = this.policy.mode;
  }

  /** A task was posted: make sure the loop runs. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    const port = this.#port;
    const tasks = this.#tasks;
    let lastYield = performance.now();
    try {
      while (tasks.inflight > 0) {
        // Read the result counter before looking, so a result posted right after the look is not missed by the spin.
        const seq = Atomics.load(this.#i32, A_RESULTS);
        let batch: CompletionPacket[] = port.getMany(DRAIN_BATCH, 0);
        if (batch.length === 0) {
          if (this.#spin(seq)) continue;
          const first = await port.getAsync();
          if (first === null) continue;
          this.complete(first);
          batch = port.getMany(DRAIN_BATCH, 0);
        }
        for (let i = 0; i < batch.length; i++) this.complete(batch[i]!);
        this.#hooks.afterBatch();
        const now = performance.now();
        if (now - lastYield > YIELD_MS) {
          // A long stream of results must not starve timers and I/O.
          await new Promise<void>((resolve) => setImmediate(resolve));
          lastYield = performance.now();
        } else {
          // One microtask turn: the callers' continuations (queued by the resolves above) run first.
          await undefined;
        }
      }
    } catch (error) {
      // Closed: the pool is ending (destroy, a failed module, the end of close) — nothing more comes.
      if (!(error instanceof PortClosedError)) throw error;
    } finally {
      this.#running = false;
    }
    this.#hooks.idle();
  }

  /** Takes every result already queued, without waiting (close). False once the port is closed. */
  takeQueued(): boolean {
    try {
      for (;;) {
        const batch = this.#port.getMany(DRAIN_BATCH, 0);
        if (batch.length === 0) return true;
        for (const packet of batch) this.complete(packet);
      }
    } catch {
      return false;
    }
  }

  /**
   * A short, bounded spin for a result that should arrive within
   * microseconds — cheaper than a getAsync wake-up (~20 µs) when one task
   * at a time goes back and forth. Only when few tasks are in flight; its
   * budget adapts (see #spinBudget), so long tasks cost a short probe each.
   */
  #spin(seq: number): boolean {
    if (this.#tasks.inflight > this.#concurrency || this.policy.mode === 0) return false;
    const i32 = this.#i32;
    const budget = this.#spinBudget;
    const deadline = performance.now() + budget;
    for (;;) {
      for (let i = 0; i < 64; i++) {
        if (Atomics.load(i32, A_RESULTS) !== seq) {
          // Paid off: allow longer spins again.
          this.#spinBudget = Math.min(SPIN_MAX_MS, budget * 2);
          return true;
        }
      }
      if (performance.now() > deadline) {
        // Wasted: halve the next spin. Long tasks, or a loaded machine where spinning only
        // takes the core from the thread we wait for, drive it down to a cheap probe.
        this.#spinBudget = Math.max(SPIN_MIN_MS, budget / 2);
        return false;
      }
    }
  }

  /**
   * One result packet: (status, ticket, slot) — from the port, or made by the pool for a thread
   * that died after it wrote its result (pool/layout.ts A6). `arrived`: what its task sent on its
   * thread's channel has been read (whenArrived).
   */
  complete(packet: CompletionPacket, arrived = false): void {
    const tasks = this.#tasks;
    const slot = packet.overlapped;
    // A4: the index came from shared memory.
    if (slot >>> 0 !== slot || slot >= tasks.slots) {
      this.#hooks.corrupt(new RangeError(`result packet names slot ${slot} of ${tasks.slots}`));
      return;
    }
    const w = slotWord(tasks.slotBytes, slot);
    const i32 = this.#i32;
    // A7: delivered already, for a thread that died after it posted this (two loads on the slot's first line).
    if (i32[w + T_TICKET] !== packet.completionKey || i32[w + T_STATE] === FREE) return;
    const status = packet.bytesTransferred;
    const reject = tasks.reject[slot];
    if (reject === undefined && status !== R_CANCELLED) {
      // Settled already: a timed-out task's late result frees its slot (and its heap block);
      // anything else (destroy, a dead thread) freed it then.
      if (tasks.orphaned(slot)) {
        tasks.discard(slot);
        tasks.release(slot);
      }
      return;
    }
    const flags = i32[w + T_FLAGS]!;
    // The thread that ran it (A6): its channel carries the task's progress and a fallback result.
    const owner = i32[w + T_OWNER]!;
    // What the task sent on its thread's channel before this packet — its progress values, its
    // result when too large for the slot — is read before it settles; if it has not reached this
    // thread yet (Deno: channel.ts), the packet waits for it.
    const progress = (flags & F_PROGRESS) !== 0 && status !== R_CANCELLED;
    const message = status === R_OK_MESSAGE || status === R_ERROR_MESSAGE;
    if ((progress || message) && !arrived) {
      const channel = this.#hooks.resultChannel(owner);
      const ticket = i32[w + T_TICKET]!;
      if (channel !== undefined && !channel.arrived(slot, ticket, progress, message)) {
        channel.whenArrived(slot, ticket, progress, message, () => this.complete(packet, true));
        return;
      }
    }
    if ((flags & F_TIMED) !== 0) {
      const f = w >> 1;
      const start = this.#arena.f64[f + T_START]!;
      this.waitTime.add(Math.max(0, start - tasks.submittedAt[slot]!));
      this.runTime.add(this.#arena.f64[f + T_RUN]!);
    }
    if (reject !== undefined) this.#busy(flags, w);
    const postedAt = tasks.postedAt[slot]!;
    if (postedAt !== 0 && this.policy.sample(performance.now() - postedAt)) i32[A_SPIN] = this.policy.mode;
    const resolve = tasks.resolve[slot];
    let value: unknown;
    let ok: boolean;
    try {
      switch (status) {
        case R_OK:
          value = this.#arena.decode(w);
          ok = true;
          break;
        case R_ERROR:
          value = recordToError(this.#arena.decode(w) as ThrownRecord);
          ok = false;
          break;
        case R_OK_MESSAGE:
        case R_ERROR_MESSAGE:
          value = this.#fallbackResult(owner, slot);
          // Only the status says a value was thrown: a result that looks like a record is a result.
          if (status === R_ERROR_MESSAGE) value = recordToError(value as ThrownRecord);
          ok = status === R_OK_MESSAGE;
          break;
        case R_CANCELLED:
          // Never ran: its task, if it went into the heap, was never read.
          tasks.discard(slot);
          tasks.release(slot);
          return;
        default:
          throw new RangeError(`result packet has status ${status}`);
      }
    } catch (error) {
      value = error;
      ok = false;
    }
    tasks.release(slot);
    if (ok) {
      tasks.completed++;
      resolve!(value);
    } else {
      tasks.failed++;
      reject!(value);
    }
  }

  /** A result too large for its slot: the worker sent it on its result channel before posting the packet. */
  #fallbackResult(workerId: number, slot: number): unknown {
    const channel = this.#hooks.resultChannel(workerId);
    if (channel === undefined) throw new WorkerDiedError(`the result of this task was lost with its thread (${workerId})`);
    const carried = channel.take(slot, MISSING);
    if (carried === MISSING) throw new Error(`iocp-pool: fallback result for slot ${slot} is missing`);
    return this.#arena.uncarry(carried as Carried);
  }

  // ── Utilization: tasks completed × their sampled mean run time, over threads × the interval ──
  #completedInInterval = 0;
  #sampledRunTime = 0;
  #samples = 0;
  #intervalStart = performance.now();

  /** Counts a completed task toward utilization (its run time, when sampled). */
  #busy(flags: number, w: number): void {
    this.#completedInInterval++;
    if ((flags & F_TIMED) !== 0) {
      this.#sampledRunTime += this.#arena.f64[(w >> 1) + T_RUN]!;
      this.#samples++;
    }
  }

  /** The fraction of the interval since the last call that `threads` threads spent in handlers; starts a new interval. */
  utilization(threads: number): number {
    const now = performance.now();
    const elapsed = now - this.#intervalStart;
    const busy = this.#samples === 0 ? 0 : this.#completedInInterval * (this.#sampledRunTime / this.#samples);
    this.#intervalStart = now;
    this.#completedInInterval = this.#sampledRunTime = this.#samples = 0;
    if (threads === 0 || elapsed <= 0) return 0;
    return Math.min(1, busy / (threads * elapsed));
  }
}
