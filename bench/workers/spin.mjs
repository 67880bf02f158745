// Worker module for iocp-pool, piscina and tinypool: the default export is the handler.
export { spinTask as default } from './app-tasks.mjs';
