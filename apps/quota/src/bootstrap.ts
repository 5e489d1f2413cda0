import { createHttpApp } from '@tally/platform';
import { QuotaModule } from './app.module';
import { QuotaConfig } from './config/quota.config';

export function bootstrapQuota(config: QuotaConfig, options: { shutdownHooks?: boolean } = {}) {
  return createHttpApp(QuotaModule.forRoot(config), {
    title: 'Tally quota',
    description: 'Admission decisions: balance, holds, concurrency and rate.',
    host: config.HOST,
    port: config.PORT,
    shutdownHooks: options.shutdownHooks,
  });
}
