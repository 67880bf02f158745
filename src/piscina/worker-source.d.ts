/** The Piscina worker shim as an ES module's source (tsup.config.ts inlines it at build time). */
declare module 'virtual:iocp-pool-piscina-worker-source' {
  const source: string;
  export default source;
}

/** The package's version (tsup.config.ts defines it at build time: a bundled application has no package.json to read). */
declare const __IOCP_POOL_VERSION__: string;
