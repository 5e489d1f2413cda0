import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { BalanceCache } from './balance-cache';
import { createRedis, RedisClientOptions } from './redis-client';

export const REDIS = Symbol('REDIS');

class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

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
        { provide: REDIS, useFactory: () => createRedis(options) },
        {
          provide: BalanceCache,
          inject: [REDIS],
          useFactory: (redis: Redis) => new BalanceCache(redis, options.keyPrefix),
        },
        RedisCloser,
      ],
      exports: [REDIS, BalanceCache],
    };
  }
}

export const redisHealth = (redis: Redis) => ({ name: 'redis', check: () => redis.ping() });
