import 'reflect-metadata';
import { installProcessLogging, logFatal } from '@tally/platform';
import { loadQuotaConfig } from './config/quota.config';
import { bootstrapQuota } from './bootstrap';

// JSON lines from the first one: config errors, kafkajs and Node's warnings included (issue 16).
installProcessLogging('quota');
void bootstrapQuota(loadQuotaConfig()).catch((error) => {
  logFatal('quota failed to start', error);
  process.exit(1);
});
