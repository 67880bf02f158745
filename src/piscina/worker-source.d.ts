/** The Piscina worker shim as an ES module's source (tsup.config.ts inlines it at build time). */
declare module 'virtual:iocp-pool-piscina-worker-source' {
  const source: string;
  export default source;
}
