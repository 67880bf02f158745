/**
 * Entry of the pool thread's bundle (dist/iocp-pool-thread.mjs), which every pool thread
 * of the package as installed loads — and of the copy that `iocp-pool/native`
 * inlines for bundled applications. It registers the native backend, so CompletionPort.from() can attach
 * to the ports of a pool created with backend 'native' (koffi loads only if
 * one is attached), then starts the runtime. The pool layer itself never
 * imports the native layer: this entry, above both, wires them.
 */
import { registerNativeLayer } from '../native/register.js';
import { startWorker } from '../pool/worker/main.js';

registerNativeLayer();
startWorker();
