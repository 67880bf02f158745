/**
 * iocp-pool: Windows I/O completion port semantics for Node.js worker threads.
 *
 * Layers (each imports only the ones below it):
 *   port    — CompletionPort: the shared completion queue (portable backend)
 *   pool    — ThreadPool: worker threads looping on a port (CThreadPools, docs/background.md)
 *   native  — the same port over the real Win32 IOCP (Windows, optional koffi)
 */
export * from './port/index.js';
export * from './pool/index.js';
export * from './native/index.js';
