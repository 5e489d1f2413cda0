import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type { RedisClient } from './redis-client';
import { AdmissionCache } from './admission-cache';
import { BalanceCache } from './balance-cache';
import { OrgStateCache } from './org-state-cache';
import { createRedis, RedisClientOptions, waitUntilReady } from './redis-client';

export const REDIS = Symbol('REDIS');

class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: RedisClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

@Global()
@Module({})
export class RedisModule {
  static forRoot(options: RedisClientOptions & { keyPrefix: string }): DynamicModule {
    return {
      module: RedisModule,
      providers: [
        {
          provide: REDIS,
          useFactory: async () => {
            const redis = createRedis(options);
            // A fail-fast client refuses commands until connected: give it a moment at boot.
            if (options.failFast) await waitUntilReady(redis, 2_000);
            return redis;
          },
        },
        {
          provide: BalanceCache,
          inject: [REDIS],
          useFactory: (redis: RedisClient) => new BalanceCache(redis, options.keyPrefix),
        },
        {
          provide: AdmissionCache,
          inject: [REDIS],
          useFactory: (redis: RedisClient) => new AdmissionCache(redis, options.keyPrefix),
        },
        {
          provide: OrgStateCache,
          inject: [REDIS],
          useFactory: (redis: RedisClient) => new OrgStateCache(redis, options.keyPrefix),
        },
        RedisCloser,
      ],
      exports: [REDIS, BalanceCache, AdmissionCache, OrgStateCache],
    };
  }
}

export const redisHealth = (redis: RedisClient) => ({ name: 'redis', check: () => redis.ping() });
