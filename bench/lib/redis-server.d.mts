export const NO_REDIS: string;
export function findRedis(): string | undefined;
export interface RedisServer {
  readonly port: number;
  readonly connection: { host: string; port: number; maxRetriesPerRequest: null };
  stop(): Promise<void>;
}
export function startRedis(): Promise<RedisServer>;
