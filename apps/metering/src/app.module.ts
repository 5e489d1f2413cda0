import { DynamicModule, Module } from '@nestjs/common';
import { DATA_SOURCE, DatabaseModule, postgresHealth } from '@tally/database';
import { KAFKA, KafkaModule, kafkaHealth, KafkaStartup } from '@tally/kafka';
import { PlatformModule } from '@tally/platform';
import { REDIS, RedisModule, redisHealth, type RedisClient } from '@tally/redis';
import { Kafka } from 'kafkajs';
import { DataSource } from 'typeorm';
import { AlertsModule } from './alerts/alerts.module';
import { MeteringConfigModule } from './config/metering-config.module';
import { MeteringConfig } from './config/metering.config';
import { MeteringConsumer } from './consumers/metering.consumer';
import { MeteringConsumers } from './consumers/metering-consumers';
import { ExpiryRepository } from './expiry/expiry.repository';
import { ExpiryService } from './expiry/expiry.service';
import { BalanceRefresher } from './ledger/balance-refresher.service';
import { LedgerModule } from './ledger/ledger.module';
import { NotifierModule } from './notifier/notifier.module';
import { OpsModule } from './ops/ops.module';
import { OrgEventsConsumer } from './orgs/org-events.consumer';
import { OrgsModule } from './orgs/orgs.module';
import { OutboxRelay } from './outbox/outbox-relay.service';
import { PackagesModule } from './packages/packages.module';

// The pipeline: the consumers post batches and apply platform.org.v1, expiry posts lapsed packages,
// the refresher retries the Redis refreshes of grants and expiry, the relay publishes what the
// ledger's transactions wrote to the outbox.
const PIPELINE = [
  OutboxRelay,
  ExpiryRepository,
  ExpiryService,
  BalanceRefresher,
  MeteringConsumers,
  MeteringConsumer,
  OrgEventsConsumer,
];

@Module({})
export class MeteringModule {
  static forRoot(config: MeteringConfig): DynamicModule {
    return {
      module: MeteringModule,
      imports: [
        MeteringConfigModule.forRoot(config),
        PlatformModule.forRoot({
          service: 'metering',
          logLevel: config.LOG_LEVEL,
          serviceTokens: config.SERVICE_TOKENS,
          healthIndicators: {
            inject: [DATA_SOURCE, REDIS, KAFKA, KafkaStartup],
            useFactory: (db: DataSource, redis: RedisClient, kafka: Kafka, startup: KafkaStartup) => [
              postgresHealth(db),
              redisHealth(redis),
              kafkaHealth(kafka, startup),
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
        LedgerModule,
        PackagesModule,
        AlertsModule,
        NotifierModule.forRoot(config),
        OpsModule.forRoot(config),
        OrgsModule,
      ],
      providers: PIPELINE,
    };
  }
}
