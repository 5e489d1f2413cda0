import 'reflect-metadata';
import { loadQuotaConfig } from './config/quota.config';
import { bootstrapQuota } from './bootstrap';

void bootstrapQuota(loadQuotaConfig()).catch((error) => {
  console.error(`quota failed to start: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
