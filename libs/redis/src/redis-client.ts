import Redis from 'ioredis';

export interface RedisClientOptions {
  url: string;
  /** A command that gets no answer within this fails instead of hanging the caller. */
  commandTimeoutMs?: number;
}

export function createRedis({ url, commandTimeoutMs = 1_000 }: RedisClientOptions): Redis {
  return new Redis(url, {
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  });
}
