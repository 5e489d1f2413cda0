import { DynamicModule, Module } from '@nestjs/common';
import { DATA_SOURCE, DatabaseModule, postgresHealth } from '@tally/database';
import { KAFKA, KafkaModule, kafkaHealth } from '@tally/kafka';
import { PlatformModule } from '@tally/platform';
import { REDIS, RedisModule, redisHealth } from '@tally/redis';
import type Redis from 'ioredis';
import { Kafka } from 'kafkajs';
import { DataSource } from 'typeorm';
import { ApiKeysService } from './api-keys/api-keys.service';
import { AUTH_CONFIG, AuthConfig } from './config/auth.config';
import { VerifyController } from './verify/verify.controller';
import { VerifyService } from './verify/verify.service';

@Module({})
export class AuthModule {
  static forRoot(config: AuthConfig): DynamicModule {
    return {
      module: AuthModule,
      imports: [
        PlatformModule.forRoot({
          service: 'auth',
          logLevel: config.LOG_LEVEL,
          serviceTokens: config.SERVICE_TOKENS,
          healthIndicators: {
            inject: [DATA_SOURCE, REDIS, KAFKA],
            useFactory: (db: DataSource, redis: Redis, kafka: Kafka) => [
              postgresHealth(db),
              redisHealth(redis),
              kafkaHealth(kafka),
            ],
          },
        }),
        DatabaseModule.forRoot({
          url: config.DATABASE_URL,
          applicationName: 'tally-auth',
          migrate: config.MIGRATE_ON_START === 'true',
        }),
        RedisModule.forRoot({ url: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX }),
        KafkaModule.forRoot({
          clientId: 'tally-auth',
          brokers: config.KAFKA_BROKERS,
          topicPrefix: config.KAFKA_TOPIC_PREFIX,
        }),
      ],
      controllers: [VerifyController],
      providers: [{ provide: AUTH_CONFIG, useValue: config }, ApiKeysService, VerifyService],
      exports: [ApiKeysService],
    };
  }
}
