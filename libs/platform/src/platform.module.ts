import { DynamicModule, Module, Provider } from '@nestjs/common';
import { HealthController, HEALTH_INDICATORS } from './health/health.controller';
import { HotRoutes } from './http/hot-routes';
import { ServiceAuthGuard, SERVICE_TOKENS } from './http/service-auth.guard';
import { loggingModule } from './logging/logging';
import { createMetricsRegistry, METRICS_REGISTRY, MetricsController } from './metrics/metrics';

export interface PlatformOptions {
  service: string;
  logLevel: string;
  serviceTokens: string[];
  /** Provider of HEALTH_INDICATORS: the app's dependencies to check in /health/ready. */
  healthIndicators: Omit<Provider, 'provide'> & Record<string, unknown>;
}

/** What every Tally app shares: logging, health, metrics, the service-credential guard. */
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformOptions): DynamicModule {
    return {
      module: PlatformModule,
      global: true,
      imports: [loggingModule(options.service, options.logLevel)],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: SERVICE_TOKENS, useValue: options.serviceTokens },
        { provide: METRICS_REGISTRY, useFactory: () => createMetricsRegistry(options.service) },
        { ...options.healthIndicators, provide: HEALTH_INDICATORS } as Provider,
        ServiceAuthGuard,
        HotRoutes,
      ],
      exports: [SERVICE_TOKENS, METRICS_REGISTRY, HEALTH_INDICATORS, ServiceAuthGuard, HotRoutes],
    };
  }
}
