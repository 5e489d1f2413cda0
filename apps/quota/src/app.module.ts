import { DynamicModule, Module } from '@nestjs/common';
import { DATA_SOURCE, DatabaseModule, postgresHealth } from '@tally/database';
import { createKafka, EventPublisher, KafkaStartup } from '@tally/kafka';
import { PlatformModule } from '@tally/platform';
import { REDIS, RedisModule, redisHealth, type RedisClient } from '@tally/redis';
import { DataSource } from 'typeorm';
import { AdmissionWarmup } from './admissions/admission-warmup';
import { AdmissionVoids, VOID_PUBLISHER } from './admissions/admission-voids';
import { AdmissionsController } from './admissions/admissions.controller';
import { AdmissionsService } from './admissions/admissions.service';
import { BalanceSnapshotRepository } from './admissions/balance-snapshot.repository';
import { SandboxPricesRepository } from './admissions/sandbox-prices.repository';
import { BalancesController } from './balances/balances.controller';
import { BalancesService } from './balances/balances.service';
import { DEFAULT_CATALOG, parseCatalogJson } from './catalog/catalog-config';
import { ConfigCatalogRepository, PostgresCatalogRepository } from './catalog/catalog-postgres.repository';
import { CATALOG_REPOSITORY } from './catalog/catalog.repository';
import { CatalogService } from './catalog/catalog.service';
import { QUOTA_CONFIG, QuotaConfig } from './config/quota.config';

@Module({})
export class QuotaModule {
  static forRoot(config: QuotaConfig): DynamicModule {
    const catalog = config.CATALOG_JSON ? parseCatalogJson(config.CATALOG_JSON) : DEFAULT_CATALOG;
    return {
      module: QuotaModule,
      imports: [
        PlatformModule.forRoot({
          service: 'quota',
          logLevel: config.LOG_LEVEL,
          serviceTokens: config.SERVICE_TOKENS,
          healthIndicators: {
            inject: [DATA_SOURCE, REDIS],
            useFactory: (db: DataSource, redis: RedisClient) => [postgresHealth(db), redisHealth(redis)],
          },
        }),
        DatabaseModule.forRoot({ url: config.DATABASE_URL, applicationName: 'tally-quota', poolSize: 5 }),
        // Admission answers within milliseconds or not at all: no offline queue, no retries.
        RedisModule.forRoot({
          url: config.REDIS_URL,
          keyPrefix: config.REDIS_KEY_PREFIX,
          commandTimeoutMs: config.REDIS_TIMEOUT_MS,
          failFast: true,
        }),
      ],
      controllers: [BalancesController, AdmissionsController],
      providers: [
        { provide: QUOTA_CONFIG, useValue: config },
        {
          provide: CATALOG_REPOSITORY,
          inject: [DATA_SOURCE],
          useFactory: (db: DataSource) =>
            config.CATALOG_SOURCE === 'postgres'
              ? new PostgresCatalogRepository(db, catalog)
              : new ConfigCatalogRepository(db, catalog),
        },
        CatalogService,
        // Connected on first use: admission itself never waits for Kafka, only a release does.
        {
          provide: VOID_PUBLISHER,
          useFactory: () => new EventPublisher(createKafka('tally-quota', config.KAFKA_BROKERS)),
        },
        // Creates the voids' topic in the background once the broker answers (bootstrap).
        { provide: KafkaStartup, useFactory: () => new KafkaStartup() },
        AdmissionVoids,
        BalanceSnapshotRepository,
        SandboxPricesRepository,
        AdmissionsService,
        AdmissionWarmup,
        BalancesService,
      ],
    };
  }
}
