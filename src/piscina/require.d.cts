/**
 * The types of `require('iocp-pool/piscina')`: the class itself (`export =`), as
 * `require('piscina')` is; its option and queue types as `Piscina.PiscinaOptions`… The build
 * copies this file to dist/piscina.d.cts, beside the ES module declarations it reads.
 */
import type {
  AbortEventEmitter as AbortEventEmitterType,
  AbortEventTarget as AbortEventTargetType,
  AbortSignalAny as AbortSignalAnyType,
  FilledPiscinaOptions as FilledPiscinaOptionsType,
  PiscinaCloseOptions as PiscinaCloseOptionsType,
  Piscina as PiscinaClass,
  PiscinaOptions as PiscinaOptionsType,
  PiscinaRunOptions as PiscinaRunOptionsType,
  PiscinaTask as PiscinaTaskType,
  PiscinaThread as PiscinaThreadType,
  Task as TaskType,
  TaskQueue as TaskQueueType,
  TimingSummary as TimingSummaryType,
  Transferable as TransferableType,
} from './piscina.js' with { 'resolution-mode': 'import' };

declare const Piscina: typeof PiscinaClass;
// biome-ignore lint/suspicious/noExplicitAny: piscina's defaults (see the class).
type Piscina<T = any, R = any> = PiscinaClass<T, R>;
declare namespace Piscina {
  type PiscinaOptions = PiscinaOptionsType;
  type FilledPiscinaOptions = FilledPiscinaOptionsType;
  type PiscinaRunOptions = PiscinaRunOptionsType;
  type PiscinaCloseOptions = PiscinaCloseOptionsType;
  type PiscinaThread = PiscinaThreadType;
  type PiscinaTask = PiscinaTaskType;
  type Task = TaskType;
  type TaskQueue = TaskQueueType;
  type TimingSummary = TimingSummaryType;
  type Transferable = TransferableType;
  type AbortSignalAny = AbortSignalAnyType;
  type AbortEventTarget = AbortEventTargetType;
  type AbortEventEmitter = AbortEventEmitterType;
}
export = Piscina;
