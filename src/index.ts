/**
 * iocp-pool: Windows I/O completion port semantics for Node.js worker threads.
 *
 * Layers, top to bottom (each imports only layers below it; docs/design.md):
 *   pool    — ThreadPool: worker threads looping on a port (CThreadPools, docs/background.md)
 *   native  — the same port over the real Win32 IOCP (Windows, optional koffi): not in this
 *             entry point, so that an application without it does not carry it; it is
 *             `iocp-pool/native` (src/entry/native.ts)
 *   codec   — a value ↔ bytes in a slot or a heap block
 *   heap    — the shared heap the codec puts large payloads in
 *   port    — CompletionPort: the shared completion queue (portable backend)
 */
export * from './port/index.js';
export * from './pool/index.js';
