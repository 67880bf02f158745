// Worker module for iocp-pool, piscina and tinypool: the default export is the handler.
export { fib as default } from './tasks.mjs';
