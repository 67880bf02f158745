/**
 * The signals run() accepts, as piscina does: an AbortSignal (or any EventTarget-like object with
 * `aborted` and an 'abort' event), or an EventEmitter that emits 'abort'.
 */

/** An AbortSignal, or an object that says `aborted` and emits 'abort' (EventTarget or EventEmitter). */
export type AbortSignalAny =
  | AbortSignal
  | {
      readonly aborted?: boolean;
      readonly reason?: unknown;
      addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
      removeEventListener(type: 'abort', listener: () => void): void;
    }
  | { once(event: 'abort', listener: () => void): unknown; off?(event: 'abort', listener: () => void): unknown };

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
    const target = signal as Extract<AbortSignalAny, { addEventListener: unknown }>;
    target.addEventListener('abort', listener, { once: true });
    return () => target.removeEventListener('abort', listener);
  }
  const emitter = signal as Extract<AbortSignalAny, { once: unknown }>;
  emitter.once('abort', listener);
  return () => emitter.off?.('abort', listener);
}
