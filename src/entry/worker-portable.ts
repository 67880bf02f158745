/**
 * Entry of the portable copy of the pool thread's runtime that the main entry point inlines for
 * bundled applications (src/pool/main/runtime-source.ts): the runtime without the native layer,
 * which a pool on portable ports never needs. (dist/iocp-pool-thread.mjs, for the package as installed, is
 * ./worker.ts: with it.)
 */
import { startWorker } from '../pool/worker/main.js';

startWorker();
