/**
 * iocp-pool: Windows I/O completion port semantics for Node.js worker threads.
 *
 * Layers (each imports only the ones below it):
 *   port  — CompletionPort: the shared completion queue
 *   pool  — ThreadPool: worker threads looping on a port (the seeds' CThreadPools)
 */
export * from './port/index.js';
export * from './pool/index.js';
