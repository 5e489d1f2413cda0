import { DynamicModule, Module } from '@nestjs/common';
import { DATA_SOURCE, DatabaseModule, postgresHealth } from '@tally/database';
import { KAFKA, KafkaModule, kafkaHealth } from '@tally/kafka';
import { PlatformModule } from '@tally/platform';
import { REDIS, RedisModule, redisHealth, type RedisClient } from '@tally/redis';
import { Kafka } from 'kafkajs';
import { DataSource } from 'typeorm';
import { METERING_CONFIG } from './config/metering-config.token';
import { MeteringConfig } from './config/metering.config';
import { MeteringConsumer } from './consumers/metering.consumer';
import { ExpiryService } from './expiry/expiry.service';
import { LedgerDatabase } from './ledger/ledger.repository';
import { LedgerService } from './ledger/ledger.service';
import { ShapeCatalog } from './ledger/shape-catalog.service';
import { PostingObservers } from './ledger/posting-observers';
import { opsParts } from './ops/ops.parts';
import { OutboxRelay } from './outbox/outbox-relay.service';
import { OutboxSignal } from './outbox/outbox-signal';
import { PackagesController } from './packages/packages.controller';
import { PackagesService } from './packages/packages.service';

@Module({})
export class MeteringModule {
  static forRoot(config: MeteringConfig): DynamicModule {
    const ops = opsParts(config);
    return {
      module: MeteringModule,
      imports: [
        PlatformModule.forRoot({
          service: 'metering',
          logLevel: config.LOG_LEVEL,
          serviceTokens: config.SERVICE_TOKENS,
          healthIndicators: {
            inject: [DATA_SOURCE, REDIS, KAFKA],
            useFactory: (db: DataSource, redis: RedisClient, kafka: Kafka) => [
              postgresHealth(db),
              redisHealth(redis),
              kafkaHealth(kafka),
            ],
          },
        }),
        DatabaseModule.forRoot({
          url: config.DATABASE_URL,
          applicationName: 'tally-metering',
          // One connection per ledger transaction in flight, plus the relay, expiry and HTTP.
          poolSize: config.CONSUMER_CONCURRENCY + 4,
          migrate: config.MIGRATE_ON_START === 'true',
        }),
        RedisModule.forRoot({ url: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX }),
        KafkaModule.forRoot({
          clientId: 'tally-metering',
          brokers: config.KAFKA_BROKERS,
          topicPrefix: config.KAFKA_TOPIC_PREFIX,
        }),
        ...ops.imports,
      ],
      controllers: [PackagesController, ...ops.controllers],
      providers: [
        { provide: METERING_CONFIG, useValue: config },
        ShapeCatalog,
        OutboxSignal,
        LedgerDatabase,
        LedgerService,
        PackagesService,
        OutboxRelay,
        ExpiryService,
        MeteringConsumer,
        PostingObservers,
        ...ops.providers,
      ],
    };
  }
}
