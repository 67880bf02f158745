// Type-level tests: checked by `npm run typecheck` (tsc --noEmit), which `npm test` runs. Nothing
// here executes: the pools are declared, not made. A broken inference fails the type check, and an
// `@ts-expect-error` that no longer errors fails it too.
import { expectTypeOf } from 'vitest';
import type { Handler, HandlerContext, HandlerName, ThreadPool } from '../../dist/index.js';

type Worker = typeof import('./fixtures/typed.js');
type Size = { width: number; height: number };
declare const typed: ThreadPool<Worker>;
declare const manual: ThreadPool<number, string>;
declare const untyped: ThreadPool;
declare const size: Size;

export function typedFromTheModule(): void {
  // The default export: describe(size) => string.
  expectTypeOf(typed.run(size)).toEqualTypeOf<Promise<string>>();
  // Named exports: their parameter, their awaited result.
  expectTypeOf(typed.run(size, { name: 'area' })).toEqualTypeOf<Promise<number>>();
  expectTypeOf(typed.run(size, { name: 'scale' })).toEqualTypeOf<Promise<Size>>();
  // @ts-expect-error: no such export
  void typed.run(size, { name: 'resize' });
  // @ts-expect-error: an export that is not a function
  void typed.run(size, { name: 'notAHandler' });
  // @ts-expect-error: area takes a Size
  void typed.run('3x4', { name: 'area' });
  // @ts-expect-error: so does the default handler
  void typed.run(12);
}

/** A module with the two lifecycle hooks: they are exported functions, and not handlers. */
type WithHooks = {
  default: (x: number) => string;
  area: (size: Size) => number;
  setup: (workerData: unknown) => Promise<void>;
  teardown: () => void;
};
declare const hooked: ThreadPool<WithHooks>;

export function hooksAreNotHandlers(): void {
  expectTypeOf<HandlerName<WithHooks>>().toEqualTypeOf<'default' | 'area'>();
  expectTypeOf(hooked.run(size, { name: 'area' })).toEqualTypeOf<Promise<number>>();
  // @ts-expect-error: setup() is a lifecycle hook: run() cannot name it (the pool rejects it)
  void hooked.run(undefined, { name: 'setup' });
  // @ts-expect-error: so is teardown()
  void hooked.run(undefined, { name: 'teardown' });
}

export function declaredByHand(): void {
  expectTypeOf(manual.run(1)).toEqualTypeOf<Promise<string>>();
  // @ts-expect-error: the task is a number
  void manual.run('1');
  expectTypeOf(untyped.run({ anything: true }, { name: 'any-name' })).toEqualTypeOf<Promise<unknown>>();
}

export function handlersAndEvents(): void {
  const handler: Handler<number, string> = (task, context) => {
    expectTypeOf(task).toEqualTypeOf<number>();
    expectTypeOf(context).toEqualTypeOf<HandlerContext>();
    expectTypeOf(context.signal).toEqualTypeOf<AbortSignal | undefined>();
    return String(task);
  };
  void handler;
  typed.on('error', (error, wParam) => {
    expectTypeOf(error).toEqualTypeOf<Error>();
    expectTypeOf(wParam).toEqualTypeOf<number | undefined>();
  });
  // Other events still take any listener.
  typed.on('newListener', (name: string | symbol) => void name);
}
