import { Logger } from '@nestjs/common';
import { parseRedisUrl, registerDependencyEndpoint } from '@tally/platform';
import Redis, { Cluster } from 'ioredis';

/** Every Tally connection to Redis: one server, or a Redis Cluster (MOVED/ASK and failover followed). */
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /** `redis://`, `rediss://`, or `redis+cluster://host:port[,host:port...]` (see parseRedisUrl). */
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

const reconnectDelay = (failFast: boolean) => (attempt: number) =>
  failFast ? Math.min(attempt * 50, 500) : Math.min(attempt * 100, 2_000);

/**
 * A connection error is said once per outage, and the return once (without a listener, ioredis
 * prints every failed reconnection with its stack to stderr).
 */
function reportConnectionErrors(redis: RedisClient): RedisClient {
  const logger = new Logger('Redis');
  // While Redis is known to be down, a command fails at once (the caller answers 503 naming
  // Redis) instead of waiting in the offline queue for reconnection attempts: with a queue, a
  // request that makes two Redis calls took over 2 s to be refused (issue 16, test/outage-redis).
  const options = redis.options as { enableOfflineQueue?: boolean };
  const queueWhenUp = options.enableOfflineQueue;
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    options.enableOfflineQueue = false;
    logger.warn({ err: error }, 'Redis connection failed; reconnecting in the background');
  });
  redis.on('ready', () => {
    if (down) logger.log('Redis connection ready again');
    down = false;
    options.enableOfflineQueue = queueWhenUp;
  });
  return redis;
}

/** The one place a Redis client is created. */
export function createRedis(options: RedisClientOptions): RedisClient {
  return reportConnectionErrors(newClient(options));
}

function newClient({ url, commandTimeoutMs = 1_000, failFast = false }: RedisClientOptions): RedisClient {
  const target = parseRedisUrl(url);
  if (target.mode === 'single') {
    const { hostname, port } = new URL(target.url);
    registerDependencyEndpoint('redis', hostname || 'localhost', Number(port || 6379));
  } else for (const node of target.nodes) registerDependencyEndpoint('redis', node.host, node.port);
  const common = { commandTimeout: commandTimeoutMs, maxRetriesPerRequest: failFast ? 0 : 2 };
  if (target.mode === 'single') {
    return new Redis(target.url, {
      ...common,
      enableOfflineQueue: !failFast,
      enableAutoPipelining: true,
      retryStrategy: reconnectDelay(failFast),
    });
  }
  return new Cluster(target.nodes, {
    redisOptions: {
      ...common,
      username: target.username,
      password: target.password,
      tls: target.tls ? {} : undefined,
      connectTimeout: 2_000,
    },
    enableOfflineQueue: !failFast,
    enableAutoPipelining: true,
    clusterRetryStrategy: reconnectDelay(failFast),
    // A failover moves a slot to a replica within seconds: retry there rather than fail the caller.
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 1_000,
    slotsRefreshInterval: 2_000,
    scaleReads: 'master',
  });
}

/**
 * A connection for SUBSCRIBE (a subscribed connection can send nothing else), with the client's
 * settings but no command timeout (a subscription waits indefinitely by design). On a cluster,
 * classic pub/sub: PUBLISH reaches every node, and the subscriber re-subscribes on another node
 * when its node fails (see docs/SCALE.md for why not sharded pub/sub).
 */
export function createSubscriber(redis: RedisClient): RedisClient {
  if (redis instanceof Cluster) {
    return redis.duplicate(undefined, { redisOptions: { ...redis.options.redisOptions, commandTimeout: undefined } });
  }
  return redis.duplicate({ commandTimeout: undefined });
}

/** Resolves once the client is ready, or after `timeoutMs` (a fail-fast client starts answering then). */
export async function waitUntilReady(redis: RedisClient, timeoutMs: number): Promise<boolean> {
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
