/**
 * The pool thread's runtime as a CommonJS script, minified, brotli-compressed and base64-encoded
 * (tsup.config.ts inlines it at build time; src/pool/main/runtime-source.ts decodes it): the
 * portable runtime, and the one with the native backend.
 */
declare module 'virtual:iocp-pool-worker-source' {
  const source: string;
  export default source;
}
declare module 'virtual:iocp-pool-worker-source-native' {
  const source: string;
  export default source;
}
