/**
 * The signals run() accepts, as piscina does: an AbortSignal (or any EventTarget-like object with
 * `aborted` and an 'abort' event), or an EventEmitter that emits 'abort'.
 */

/** An EventTarget-like signal: an AbortSignal, or any object with `aborted` and an 'abort' event. */
export interface AbortEventTarget {
  /** True once aborted. */
  readonly aborted?: boolean;
  /** Why it was aborted: the AbortError's `cause`. */
  readonly reason?: unknown;
  /** Adds the listener of the 'abort' event. */
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  /** Removes it. */
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** An EventEmitter that emits 'abort'. */
export interface AbortEventEmitter {
  /** Adds a one-time listener of 'abort'. */
  once(event: 'abort', listener: () => void): unknown;
  /** Removes it (when the emitter has off()). */
  off?(event: 'abort', listener: () => void): unknown;
}

/** The signals run() accepts: an AbortSignal (or EventTarget-like object), or an EventEmitter that emits 'abort'. */
export type AbortSignalAny = AbortSignal | AbortEventTarget | AbortEventEmitter;

/** True when the signal is already aborted. */
export function isAborted(signal: AbortSignalAny): boolean {
  return (signal as { aborted?: unknown }).aborted === true;
}

/** The signal's reason, where it has one. */
export function reasonOf(signal: AbortSignalAny): unknown {
  return (signal as { reason?: unknown }).reason;
}

/** Calls `listener` once when the signal aborts; returns what removes it. */
export function onAbort(signal: AbortSignalAny, listener: () => void): () => void {
  if ('addEventListener' in signal && typeof signal.addEventListener === 'function') {
    const target = signal as AbortEventTarget;
    target.addEventListener('abort', listener, { once: true });
    return () => target.removeEventListener('abort', listener);
  }
  const emitter = signal as AbortEventEmitter;
  emitter.once('abort', listener);
  return () => emitter.off?.('abort', listener);
}
