import Redis from 'ioredis';

export interface RedisClientOptions {
  url: string;
  /** A command that gets no answer within this fails instead of hanging the caller. */
  commandTimeoutMs?: number;
  /**
   * For callers that must answer within milliseconds (admission): no offline queue and no
   * retries, so a command sent while Redis is down fails at once instead of waiting for a
   * reconnect; reconnection keeps going in the background, so Redis coming back needs no restart.
   */
  failFast?: boolean;
}

export function createRedis({ url, commandTimeoutMs = 1_000, failFast = false }: RedisClientOptions): Redis {
  return new Redis(url, {
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: failFast ? 0 : 2,
    enableOfflineQueue: !failFast,
    enableAutoPipelining: true,
    retryStrategy: (attempt) => (failFast ? Math.min(attempt * 50, 500) : Math.min(attempt * 100, 2_000)),
  });
}

/** Resolves once the client is ready, or after `timeoutMs` (a fail-fast client starts answering then). */
export async function waitUntilReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.on('ready', onReady);
  });
}
