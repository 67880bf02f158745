/**
 * Piscina.move(): marks a value to be transferred (not copied) with a task or a result, and the
 * Transferable protocol behind it: an object with a `[transferableSymbol]` (what goes into the
 * transfer list) and a `[valueSymbol]` (what the other side receives).
 *
 * The symbols are registered (Symbol.for) under the keys piscina registers, so a Transferable
 * written for piscina works unchanged, and the main thread's copy of this module, a worker's copy
 * and the worker shim agree on them whichever build (ESM or CommonJS) each loaded.
 */
import type { TransferListItem } from 'node:worker_threads';
import { types } from 'node:util';

/** The key of a Transferable's transfer-list item(s). */
export const transferableSymbol: unique symbol = Symbol.for('Piscina.transferable') as never;
/** The key of a Transferable's value: what the receiving side gets. */
export const valueSymbol: unique symbol = Symbol.for('Piscina.valueOf') as never;
/** The key under which a task handed to a custom task queue carries its queue options. */
export const queueOptionsSymbol: unique symbol = Symbol.for('Piscina.queueOptions') as never;
/** Marks a Transferable that move() returned: only those are unwrapped. */
const movable = Symbol.for('iocp-pool.piscina.movable');

/** An object that says how it is transferred: `[transferableSymbol]` goes into the transfer list, `[valueSymbol]` is sent. */
export interface Transferable {
  /** What goes into the transfer list: an ArrayBuffer, a MessagePort…, or an array of them. */
  readonly [transferableSymbol]: object;
  /** What the receiving side gets. */
  readonly [valueSymbol]: object;
}

/** Wraps a typed array or DataView: its buffer is transferred, the view is sent. */
class ViewTransferable implements Transferable {
  readonly #view: ArrayBufferView;
  constructor(view: ArrayBufferView) {
    this.#view = view;
  }
  get [transferableSymbol](): object {
    return this.#view.buffer;
  }
  get [valueSymbol](): object {
    return this.#view;
  }
}

/** Wraps an ArrayBuffer or a MessagePort: it is both what is transferred and what is sent. */
class DirectTransferable implements Transferable {
  readonly #value: object;
  constructor(value: object) {
    this.#value = value;
  }
  get [transferableSymbol](): object {
    return this.#value;
  }
  get [valueSymbol](): object {
    return this.#value;
  }
}

function isTransferable(value: object): value is Transferable {
  return transferableSymbol in value && valueSymbol in value;
}

/**
 * Marks `value` to be moved: given as a task (or returned by a handler), its buffer is
 * transferred instead of copied and the sender's copy is detached. A typed array or DataView
 * moves its buffer; an ArrayBuffer or MessagePort moves itself; an object that implements
 * Transferable moves what it says. Anything else (a primitive) is returned as it is.
 */
export function move<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  const wrapped: object = isTransferable(value)
    ? value
    : types.isArrayBufferView(value)
      ? new ViewTransferable(value)
      : new DirectTransferable(value);
  Object.defineProperty(wrapped, movable, { value: true, enumerable: false, configurable: true });
  return wrapped as T;
}

/** True for what move() returned. */
export function isMovable(value: unknown): value is Transferable {
  return value !== null && typeof value === 'object' && (value as Record<symbol, unknown>)[movable] === true;
}

/** What a moved value sends; what it transfers (one item or an array of them) is added to `transferList`. */
export function unwrapMoved(value: Transferable, transferList: TransferListItem[]): unknown {
  const transfers = value[transferableSymbol];
  if (Array.isArray(transfers)) transferList.push(...(transfers as TransferListItem[]));
  else transferList.push(transfers as TransferListItem);
  return value[valueSymbol];
}
