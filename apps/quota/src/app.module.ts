import { DynamicModule, Module } from '@nestjs/common';
import { DATA_SOURCE, DatabaseModule, postgresHealth } from '@tally/database';
import { PlatformModule } from '@tally/platform';
import { REDIS, RedisModule, redisHealth } from '@tally/redis';
import type Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { BalancesController } from './balances/balances.controller';
import { BalancesService } from './balances/balances.service';
import { QuotaConfig } from './config/quota.config';

@Module({})
export class QuotaModule {
  static forRoot(config: QuotaConfig): DynamicModule {
    return {
      module: QuotaModule,
      imports: [
        PlatformModule.forRoot({
          service: 'quota',
          logLevel: config.LOG_LEVEL,
          serviceTokens: config.SERVICE_TOKENS,
          healthIndicators: {
            inject: [DATA_SOURCE, REDIS],
            useFactory: (db: DataSource, redis: Redis) => [postgresHealth(db), redisHealth(redis)],
          },
        }),
        DatabaseModule.forRoot({ url: config.DATABASE_URL, applicationName: 'tally-quota', poolSize: 5 }),
        RedisModule.forRoot({
          url: config.REDIS_URL,
          keyPrefix: config.REDIS_KEY_PREFIX,
          commandTimeoutMs: config.REDIS_TIMEOUT_MS,
        }),
      ],
      controllers: [BalancesController],
      providers: [BalancesService],
    };
  }
}
