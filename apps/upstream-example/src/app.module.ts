import { DynamicModule, Module } from '@nestjs/common';
import { ApiKeyGuardModule } from '@tally/api-key-guard';
import { PlatformModule } from '@tally/platform';
import { UsageReporterModule } from '@tally/usage-reporter';
import { UpstreamConfig } from './config/upstream.config';
import { SandboxesController } from './sandboxes/sandboxes.controller';

@Module({})
export class UpstreamExampleModule {
  static forRoot(config: UpstreamConfig): DynamicModule {
    return {
      module: UpstreamExampleModule,
      imports: [
        PlatformModule.forRoot({
          service: 'upstream-example',
          logLevel: config.LOG_LEVEL,
          serviceTokens: [],
          healthIndicators: { useFactory: () => [] },
        }),
        ApiKeyGuardModule.forRoot({
          authUrl: config.AUTH_URL,
          serviceToken: config.AUTH_SERVICE_TOKEN,
          timeoutMs: config.AUTH_TIMEOUT_MS,
        }),
        ...(config.KAFKA_BROKERS.length > 0
          ? [
              UsageReporterModule.forRoot({
                brokers: config.KAFKA_BROKERS,
                source: config.USAGE_SOURCE,
                topicPrefix: config.KAFKA_TOPIC_PREFIX,
              }),
            ]
          : []),
      ],
      controllers: [SandboxesController],
    };
  }
}
