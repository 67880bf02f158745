/**
 * iocp-pool: Windows I/O completion port semantics for Node.js worker threads.
 *
 * Layers (each imports only the ones below it):
 *   port  — CompletionPort: the shared completion queue
 */
export * from './port/index.js';
