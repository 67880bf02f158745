/**
 * The pool thread's runtime as source text, for an application bundled into one file (esbuild,
 * webpack, rollup…): there dist/iocp-pool-thread.mjs is not beside the running code, so a pool starts its
 * threads from a copy of the runtime inlined at build time (tsup.config.ts), run as a CommonJS
 * script (new Worker(source, { eval: true })).
 *
 * Two copies, so that an application pays only for what it uses: the portable runtime, inlined in
 * the main entry point; and the runtime with the native backend, which a native pool's threads
 * need to attach to its ports, inlined in `iocp-pool/native` and registered here when that entry
 * point is loaded. Both are minified, then compressed (brotli, as base64 text: a third of the
 * size of the minified text); the first pool that needs one decompresses it, once.
 */
import { brotliDecompressSync } from 'node:zlib';
import portableRuntime from 'virtual:iocp-pool-worker-source';

let nativeRuntime: string | undefined;
const decoded = new Map<string, string>();

/** Called by the `iocp-pool/native` entry point: the runtime with the native backend, compressed. */
export function registerNativeRuntime(compressed: string): void {
  nativeRuntime = compressed;
}

/** The runtime for a pool whose ports are native (`native`) or portable, as a CommonJS script. */
export function runtimeSource(native: boolean): string {
  const compressed = native ? nativeRuntime : portableRuntime;
  if (compressed === undefined) {
    // A native port exists only once 'iocp-pool/native' registered the backend, and with it this
    // runtime: reaching here means two copies of the package were loaded (one of each entry).
    throw new Error(
      "a pool on the native backend needs the runtime of 'iocp-pool/native', and this copy of the package has not loaded it: import ThreadPool from 'iocp-pool/native' as well",
    );
  }
  let source = decoded.get(compressed);
  if (source === undefined) {
    source = brotliDecompressSync(Buffer.from(compressed, 'base64')).toString('utf8');
    decoded.set(compressed, source);
  }
  return source;
}
