// Worker module for iocp-pool, piscina and tinypool: the default export is the handler.
export { echo as default } from './tasks.mjs';
