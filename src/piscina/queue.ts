/**
 * The task queue of piscina's `taskQueue` option: tasks that wait for a thread, in a queue the
 * application may supply (a priority queue…). With the option, the pool hands the ThreadPool at
 * most maxThreads × concurrentTasksPerWorker tasks at once and keeps the rest here.
 */
import { queueOptionsSymbol } from './move.js';

/** A task waiting in a TaskQueue. */
export interface Task {
  /** The task's queue options: `task[Piscina.queueOptionsSymbol]` of the value given to run(), or null. */
  readonly [queueOptionsSymbol]: unknown;
}

/** A task as a TaskQueue sees it: what it will run, and since when it waits. */
export interface PiscinaTask extends Task {
  /** The value run() was given. */
  readonly task: unknown;
  /** A number unique in this process. */
  readonly taskId: number;
  /** The worker module it runs on. */
  readonly filename: string;
  /** The export it calls. */
  readonly name: string;
  /** When run() was called (performance.now()). */
  readonly created: number;
  /** It was given an abort signal. */
  readonly isAbortable: boolean;
}

/** A queue of tasks waiting for a thread. `shift()` decides which runs next. */
export interface TaskQueue {
  /** Tasks in the queue. */
  readonly size: number;
  /** Takes the next task to run, or null when empty. */
  shift(): Task | null;
  /** Takes out a task whose run() was aborted. */
  remove(task: Task): void;
  /** Adds a task. */
  push(task: Task): void;
}

/** True for an object with a TaskQueue's members. */
export function isTaskQueue(value: unknown): value is TaskQueue {
  if (value === null || typeof value !== 'object') return false;
  const q = value as Record<string, unknown>;
  return 'size' in q && typeof q.shift === 'function' && typeof q.remove === 'function' && typeof q.push === 'function';
}

/** A first-in, first-out TaskQueue over an array. */
export class ArrayTaskQueue implements TaskQueue {
  readonly #tasks: Task[] = [];

  /** Tasks in the queue. */
  get size(): number {
    return this.#tasks.length;
  }

  /** The oldest task, or null. */
  shift(): Task | null {
    return this.#tasks.shift() ?? null;
  }

  /** Appends a task. */
  push(task: Task): void {
    this.#tasks.push(task);
  }

  /** Takes out a task (an aborted one); a task not in the queue is ignored. */
  remove(task: Task): void {
    const at = this.#tasks.indexOf(task);
    if (at !== -1) this.#tasks.splice(at, 1);
  }
}

let lastTaskId = 0;

/** A task in a custom TaskQueue: what to give the ThreadPool once a place frees up, and how to settle the caller. */
export class QueuedTask implements PiscinaTask {
  readonly taskId = ++lastTaskId;
  readonly created = performance.now();
  /** Runs the task on the pool (called once, when it leaves the queue). */
  readonly submit: () => void;
  /** Settles the caller's promise with an error (the pool closed, the task was aborted). */
  readonly fail: (error: Error) => void;
  readonly #value: unknown;
  readonly filename: string;
  readonly name: string;
  readonly isAbortable: boolean;

  constructor(value: unknown, filename: string, name: string, isAbortable: boolean, submit: () => void, fail: (error: Error) => void) {
    this.#value = value;
    this.filename = filename;
    this.name = name;
    this.isAbortable = isAbortable;
    this.submit = submit;
    this.fail = fail;
  }

  /** The value run() was given (a moved value's value). */
  get task(): unknown {
    return this.#value;
  }

  /** The task's queue options (`task[queueOptionsSymbol]` of the value run() was given), or null. */
  get [queueOptionsSymbol](): unknown {
    const value = this.#value;
    return value !== null && typeof value === 'object' ? ((value as Record<symbol, unknown>)[queueOptionsSymbol] ?? null) : null;
  }
}
