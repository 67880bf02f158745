// The BullMQ tests' redis-server (shared with bench/bullmq.mjs): no binary → the suites skip, saying why,
// unless REQUIRE_REDIS=1 (CI), where a missing redis-server fails them instead.
import { findRedis, NO_REDIS } from '../../bench/lib/redis-server.mjs';

export { startRedis, type RedisServer } from '../../bench/lib/redis-server.mjs';

export const redisBinary = findRedis();

/** The suite title suffix when there is no server to test against. */
export const SKIP_REASON = `SKIPPED: ${NO_REDIS}`;

if (redisBinary === undefined) {
  if (process.env.REQUIRE_REDIS === '1') throw new Error(`REQUIRE_REDIS=1 but there is ${NO_REDIS}`);
  // Skipped suites are easy to miss in a summary: say it once per file, in words.
  console.warn(`iocp-pool/bullmq tests ${SKIP_REASON}`);
}
