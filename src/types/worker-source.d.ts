/** The pool thread's runtime as a CommonJS script (tsup.config.ts inlines it at build time). */
declare module 'virtual:iocp-pool-worker-source' {
  const source: string;
  export default source;
}
