/**
 * Loads the optional peer dependency `bullmq` at run time, so that importing
 * `iocp-pool` never needs it and importing `iocp-pool/bullmq` without it says
 * what to install instead of a bare "Cannot find package".
 *
 * Why require() in both builds: bullmq has no "exports" map, so Node resolves
 * `import 'bullmq'` and `require('bullmq')` to the same CommonJS file — the
 * Worker class we construct is the very one the application imports (one
 * module instance, `instanceof` holds). A static import would fail before any
 * of our code runs, and a top-level await cannot be built to CommonJS.
 */
import { createRequire } from 'node:module';
import type * as BullMQ from 'bullmq';

export const INSTALL_HINT = 'npm install bullmq ioredis';

export function loadBullMQ(): typeof BullMQ {
  const require = createRequire(import.meta.url);
  try {
    return require('bullmq') as typeof BullMQ;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    // Only bullmq itself missing gets the hint; a broken install says what it is.
    if (code === 'MODULE_NOT_FOUND' && /['"]bullmq['"]/.test(String((error as Error).message))) {
      throw new Error(
        `iocp-pool/bullmq needs the bullmq package, an optional peer dependency that is not installed: run \`${INSTALL_HINT}\` ` +
          '(ioredis is the Redis client BullMQ uses when given connection options)',
        { cause: error },
      );
    }
    throw error;
  }
}
