/**
 * Entry of the pool thread's bundle (dist/worker.js), which every pool thread
 * loads. It registers the native backend, so CompletionPort.from() can attach
 * to the ports of a pool created with backend 'native' (koffi loads only if
 * one is attached), then starts the runtime. The pool layer itself never
 * imports the native layer: this entry, above both, wires them.
 */
import '../native/index.js';
import { startWorker } from '../pool/worker/main.js';

startWorker();
