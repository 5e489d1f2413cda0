import { DynamicModule, Module, Provider } from '@nestjs/common';
import { DATA_SOURCE, DatabaseModule, postgresHealth } from '@tally/database';
import { KAFKA, KafkaModule, kafkaHealth, KafkaStartup } from '@tally/kafka';
import { PlatformModule } from '@tally/platform';
import { AdmissionClient as QuotaAdmissionClient, admissionDecider } from '@tally/quota-client';
import { REDIS, RedisModule, redisHealth, type RedisClient } from '@tally/redis';
import { Kafka } from 'kafkajs';
import { DataSource } from 'typeorm';
import { ADMISSION_CLIENT, AdmissionClient, AdmitAllAdmissionClient } from './admission/admission.client';
import { ApiKeysController } from './api-keys/api-keys.controller';
import { ApiKeysService } from './api-keys/api-keys.service';
import { AUTH_CONFIG, AuthConfig } from './config/auth.config';
import { AuthorizeController } from './dashboard-auth/authorize.controller';
import { DashboardUserGuard } from './dashboard-auth/dashboard-user.guard';
import { JwtVerifier } from './dashboard-auth/jwt-verifier';
import { EventBatcher } from './events/event-batcher.service';
import { MeteredEvents } from './events/metered-events';
import { KeyCacheService } from './key-cache/key-cache.service';
import { PendingRevocations } from './key-cache/pending-revocations';
import { OrgStateService } from './orgs/org-state.service';
import { FailureThrottle } from './verify/failure-throttle.service';
import { LastUsedWriter } from './verify/last-used.writer';
import { VerifyController } from './verify/verify.controller';
import { VerifyService } from './verify/verify.service';

export interface AuthModuleOptions {
  /** Overrides the admission seam (tests); by default quota at QUOTA_URL, or admit-all without it. */
  admissionClient?: AdmissionClient;
}

/** Quota decides metered actions; with QUOTA_DISABLED=true (development) they are admitted (no holds). */
const defaultAdmissionClient = (config: AuthConfig): AdmissionClient =>
  config.QUOTA_DISABLED === 'true'
    ? new AdmitAllAdmissionClient()
    : admissionDecider(
        new QuotaAdmissionClient({
          baseUrl: config.QUOTA_URL,
          serviceToken: config.QUOTA_SERVICE_TOKEN,
          timeoutMs: config.QUOTA_TIMEOUT_MS,
        }),
      );

/** /health/ready says whether metered actions are admitted by quota or, in development, by nobody. */
const quotaReport = (config: AuthConfig) => ({
  name: 'quota',
  check: async () =>
    config.QUOTA_DISABLED === 'true'
      ? { status: 'disabled', detail: 'QUOTA_DISABLED=true: metered actions are admitted without quota' }
      : { status: 'up', detail: `metered actions admitted by quota at ${config.QUOTA_URL}` },
});

const jwtVerifier = (config: AuthConfig) =>
  new JwtVerifier({
    algorithm: config.JWT_ALGORITHM,
    secret: config.JWT_SECRET || undefined,
    publicKeyPem: config.JWT_PUBLIC_KEY || undefined,
    publicKeyFile: config.JWT_PUBLIC_KEY_FILE || undefined,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    clockSkewSeconds: config.JWT_CLOCK_SKEW_SECONDS,
  });

@Module({})
export class AuthModule {
  static forRoot(config: AuthConfig, options: AuthModuleOptions = {}): DynamicModule {
    const providers: Provider[] = [
      { provide: AUTH_CONFIG, useValue: config },
      { provide: ADMISSION_CLIENT, useValue: options.admissionClient ?? defaultAdmissionClient(config) },
      { provide: JwtVerifier, useFactory: () => jwtVerifier(config) },
      DashboardUserGuard,
      KeyCacheService,
      PendingRevocations,
      OrgStateService,
      FailureThrottle,
      LastUsedWriter,
      EventBatcher,
      MeteredEvents,
      ApiKeysService,
      VerifyService,
    ];
    return {
      module: AuthModule,
      imports: [
        PlatformModule.forRoot({
          service: 'auth',
          logLevel: config.LOG_LEVEL,
          serviceTokens: config.SERVICE_TOKENS,
          healthIndicators: {
            inject: [DATA_SOURCE, REDIS, KAFKA, KafkaStartup],
            useFactory: (db: DataSource, redis: RedisClient, kafka: Kafka, startup: KafkaStartup) => [
              postgresHealth(db),
              redisHealth(redis),
              kafkaHealth(kafka, startup),
              quotaReport(config),
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
      controllers: [VerifyController, ApiKeysController, AuthorizeController],
      providers,
      exports: [ApiKeysService, KeyCacheService, LastUsedWriter, EventBatcher],
    };
  }
}
