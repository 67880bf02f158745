export interface Source<T, R> {
  task: (i: number) => T;
  check: (result: R, task: T) => boolean;
}
export function keepFull(run: (x: number) => Promise<number>, n: number, window: number, start?: number): Promise<number>;
export function oneByOne(run: (x: number) => Promise<number>, n: number): Promise<Float64Array>;
export function keepFullFor<T, R>(
  run: (task: T) => Promise<R>,
  source: Source<T, R>,
  opts: { tasks: number; ms: number; window: number },
): Promise<{ done: number; ms: number }>;
export const incSource: Source<number, number>;
export function oneByOneFor(run: (x: number) => Promise<number>, opts: { n: number; ms: number }): Promise<Float64Array>;
export function sleep(ms: number): Promise<void>;
