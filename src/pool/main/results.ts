/**
 * The result loop on the main thread: it runs while tasks are in flight.
 *
 * Pool threads post one packet per finished task on the result port
 * (status, ticket, slot), then add to the arena's result counter (A_RESULTS).
 * The loop takes everything queued with getMany(…, 0), resolves the whole
 * batch, lets the callers' continuations run (they submit more), repeats —
 * many promises per wake-up. With nothing queued it sleeps on the result
 * counter itself (Atomics.waitAsync), not in the port: the thread that next
 * posts wakes it (pool/layout.ts A8), with no lock and no mailbox on either
 * side. When only a few short tasks are in flight it may first spin on that
 * counter, because a wake-up costs more than a tiny task's round trip (see
 * #spin and spin-policy.ts for when it spins).
 */
import { type CompletionPacket, type CompletionPort, PortClosedError } from '../../port/index.js';
import type { Carried } from '../../codec/carried.js';
import { recordToError, type ThrownRecord } from '../../codec/error-record.js';
import type { SlotCodec } from '../../codec/slot-codec.js';
import { WorkerDiedError } from '../errors.js';
import {
  A_RESULTS,
  A_SPIN,
  A_WAKE,
  F_PROGRESS,
  F_TIMED,
  FREE,
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
import type { ResultChannel } from './channel.js';
import { Reservoir } from './reservoir.js';
import { SpinPolicy } from './spin-policy.js';
import type { TaskTable } from './tasks.js';
import { Utilization } from './utilization.js';

const MISSING = Symbol('missing');

/** Result packets taken per getMany: enough to amortize a wake-up, small enough to keep latency even. */
const DRAIN_BATCH = 256;
/** The loop yields to the event loop at least this often (ms), so timers and I/O are never starved. */
const YIELD_MS = 4;
/** Longest the main thread spins waiting for an imminent result (ms): well under anything noticeable. */
const SPIN_MAX_MS = 0.05;
/** Shortest: still catches a result from a thread that is spinning too (a round trip is ~1 µs, a loaded one more). */
const SPIN_MIN_MS = 0.01;
/**
 * The main thread spins only while the handlers' mean run time is under this (ms). A wake-up
 * through Atomics.waitAsync costs the main thread ~8–10 µs of CPU (measured: the event loop's
 * wake, the platform task, the promise): waiting longer than that by spinning costs more than it
 * saves, and a spin that misses costs its whole budget on top of the wake-up.
 */
const SPIN_TASK_MAX_MS = 0.01;
/** Weight of a new run-time sample in its moving mean. */
const RUN_TIME_WEIGHT = 0.125;

/** Where a result sent by message comes from (main/threads.ts ThreadSet). */
export interface ResultSources {
  /** The result channel of pool thread `workerId` (alive or recently exited). */
  resultChannel(workerId: number): ResultChannel | undefined;
}

/** What the loop tells the pool around it. */
export interface DrainListener {
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
  readonly #sources: ResultSources;
  readonly #concurrency: number;
  #listener: DrainListener | undefined;
  #running = false;
  /** Current spin budget (ms), adapted by #spin: doubled on a hit, halved on a miss. */
  #spinBudget = SPIN_MAX_MS;
  /** Moving mean of the sampled handlers' run time (ms): whether a result can be imminent (#spin). */
  #taskMs = 0;
  /** Spin or sleep for one-at-a-time run(), by measurement (spin-policy.ts). */
  readonly policy = new SpinPolicy();
  /** Sampled ms handlers ran, and ms tasks waited between run() and their start. */
  readonly runTime = new Reservoir();
  readonly waitTime = new Reservoir();
  readonly utilization = new Utilization();

  constructor(port: CompletionPort, tasks: TaskTable, sources: ResultSources, concurrency: number) {
    this.#port = port;
    this.#tasks = tasks;
    this.#arena = tasks.arena;
    this.#i32 = tasks.arena.i32;
    this.#sources = sources;
    this.#concurrency = concurrency;
    this.#i32[A_SPIN] = this.policy.mode;
  }

  /** Who hears what the loop does (the pool, once all its parts exist): before the first task. */
  listen(listener: DrainListener): void {
    this.#listener = listener;
  }

  /** Tasks are in flight: make sure the loop runs. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    const port = this.#port;
    const tasks = this.#tasks;
    const i32 = this.#i32;
    let lastYield = performance.now();
    try {
      while (tasks.inflight > 0) {
        // Read the result counter before looking, so a result posted right after the look is not
        // missed by the spin or the sleep (both wait for the counter to move past this value).
        const seq = Atomics.load(i32, A_RESULTS);
        const batch: CompletionPacket[] = port.getMany(DRAIN_BATCH, 0);
        if (batch.length === 0) {
          if (!this.#spin(seq)) await this.#sleep(seq);
          continue;
        }
        for (let i = 0; i < batch.length; i++) this.complete(batch[i]!);
        this.#listener!.afterBatch();
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
    this.#listener!.idle();
  }

  /**
   * Sleeps until the result counter moves past `seq` (pool/layout.ts A8): says so in A_WAKE, then
   * waits on the counter — at once, without waiting, if it moved meanwhile. The thread that posts
   * next swaps A_WAKE back to 0 and notifies; wake() ends the sleep from this thread.
   */
  async #sleep(seq: number): Promise<void> {
    const i32 = this.#i32;
    Atomics.store(i32, A_WAKE, 1);
    const wait = Atomics.waitAsync(i32, A_RESULTS, seq);
    if (wait.async) await wait.value;
    // Woken by wake(), or the counter moved before the wait began: the flag is still set.
    if (i32[A_WAKE] !== 0) Atomics.store(i32, A_WAKE, 0);
  }

  /**
   * Ends the loop's sleep so it looks again: the ports closed (it finds them closed and stops), or
   * a dead thread's tasks were settled without a result packet and nothing is left in flight (it
   * stops instead of waiting for good).
   */
  wake(): void {
    Atomics.notify(this.#i32, A_RESULTS);
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
   * microseconds — cheaper than a wake-up when one task at a time goes back
   * and forth. Only when few tasks are in flight and the handlers are short
   * (SPIN_TASK_MAX_MS); its budget adapts (see #spinBudget).
   */
  #spin(seq: number): boolean {
    if (this.#tasks.inflight > this.#concurrency || this.policy.mode === 0 || this.#taskMs > SPIN_TASK_MAX_MS) return false;
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
   * thread's channel has been read (whenArrived). The common path — a result in its slot, no
   * progress, no timing sample — is straight; the rest is in functions of its own.
   */
  complete(packet: CompletionPacket, arrived = false): void {
    const tasks = this.#tasks;
    const slot = packet.overlapped;
    // A4: the index came from shared memory.
    if (slot >>> 0 !== slot || slot >= tasks.slots) {
      this.#listener!.corrupt(new RangeError(`result packet names slot ${slot} of ${tasks.slots}`));
      return;
    }
    const w = slotWord(tasks.slotBytes, slot);
    const i32 = this.#i32;
    // A7: delivered already, for a thread that died after it posted this (two loads on the slot's first line).
    if (i32[w + T_TICKET] !== packet.completionKey || i32[w + T_STATE] === FREE) return;
    const status = packet.bytesTransferred;
    // A task settled early (aborted before it started, or past its timeout): this packet only frees its slot.
    if (status === R_CANCELLED || !tasks.waiting(slot)) {
      tasks.acknowledge(slot, status === R_CANCELLED);
      return;
    }
    const flags = i32[w + T_FLAGS]!;
    if ((flags & (F_PROGRESS | F_TIMED)) !== 0 || status !== R_OK) {
      // What the task sent on its thread's channel ahead of this packet is read first; a packet
      // whose messages have not reached this thread yet waits for them (Deno: channel.ts).
      if (!arrived && !this.#arrived(packet, slot, w, flags, status)) return;
      if ((flags & F_TIMED) !== 0) this.#timing(slot, w);
      else this.utilization.count(-1);
    } else {
      this.utilization.count(-1);
    }
    const postedAt = tasks.postedAt(slot);
    if (postedAt !== 0 && this.policy.sample(performance.now() - postedAt)) i32[A_SPIN] = this.policy.mode;
    let ok = status === R_OK || status === R_OK_MESSAGE;
    let value: unknown;
    try {
      value = status === R_OK ? this.#arena.decode(w) : this.#rareValue(status, w, slot);
    } catch (error) {
      value = error;
      ok = false;
    }
    tasks.settle(slot, ok, value);
  }

  /** Whether what the task sent ahead of its packet (progress, a result by message) has been read; if not, the packet waits for it. */
  #arrived(packet: CompletionPacket, slot: number, w: number, flags: number, status: number): boolean {
    const progress = (flags & F_PROGRESS) !== 0;
    const message = status === R_OK_MESSAGE || status === R_ERROR_MESSAGE;
    if (!progress && !message) return true;
    // The thread that ran it (A6): its channel carries the task's progress and a result sent by message.
    const channel = this.#sources.resultChannel(this.#i32[w + T_OWNER]!);
    if (channel === undefined) return true;
    const ticket = this.#i32[w + T_TICKET]!;
    if (channel.arrived(slot, ticket, progress, message)) return true;
    channel.whenArrived(slot, ticket, progress, message, () => this.complete(packet, true));
    return false;
  }

  /** A sampled task (F_TIMED): its wait and run times, for stats(). */
  #timing(slot: number, w: number): void {
    const f = w >> 1;
    const start = this.#arena.f64[f + T_START]!;
    const runTime = this.#arena.f64[f + T_RUN]!;
    this.waitTime.add(Math.max(0, start - this.#tasks.submittedAt(slot)));
    this.runTime.add(runTime);
    this.utilization.count(runTime);
    this.#taskMs += (runTime - this.#taskMs) * RUN_TIME_WEIGHT;
  }

  /** The value of a packet whose status is not R_OK: a thrown error in the slot, or a value or error sent by message. */
  #rareValue(status: number, w: number, slot: number): unknown {
    switch (status) {
      case R_ERROR:
        return recordToError(this.#arena.decode(w) as ThrownRecord);
      case R_OK_MESSAGE:
        return this.#fallbackResult(w, slot);
      case R_ERROR_MESSAGE:
        // Only the status says a value was thrown: a result that looks like a record is a result.
        return recordToError(this.#fallbackResult(w, slot) as ThrownRecord);
      default:
        throw new RangeError(`result packet has status ${status}`);
    }
  }

  /** A result too large for its slot: the worker sent it on its result channel before posting the packet. */
  #fallbackResult(w: number, slot: number): unknown {
    const workerId = this.#i32[w + T_OWNER]!;
    const channel = this.#sources.resultChannel(workerId);
    if (channel === undefined) throw new WorkerDiedError(`the result of this task was lost with its thread (${workerId})`);
    const carried = channel.take(slot, MISSING);
    if (carried === MISSING) throw new Error(`iocp-pool: fallback result for slot ${slot} is missing`);
    return this.#arena.uncarry(carried as Carried);
  }
}
