import { DEFAULT_PARTITIONS, Topics, topicName } from '@tally/contracts';
import { createKafka, ensureTopics } from '@tally/kafka';
import { createHttpApp } from '@tally/platform';
import { QuotaModule } from './app.module';
import { QuotaConfig } from './config/quota.config';

export async function bootstrapQuota(config: QuotaConfig, options: { shutdownHooks?: boolean } = {}) {
  // Releases publish admission.voided (auth does too, and metering consumes it).
  await ensureTopics(
    createKafka('tally-quota-setup', config.KAFKA_BROKERS),
    [topicName(config.KAFKA_TOPIC_PREFIX, Topics.admissionVoided)],
    DEFAULT_PARTITIONS,
    { replicationFactor: config.KAFKA_REPLICATION_FACTOR, minInsyncReplicas: config.KAFKA_MIN_INSYNC_REPLICAS },
  );
  return createHttpApp(QuotaModule.forRoot(config), {
    title: 'Tally quota',
    description: 'Admission decisions: balance, holds, concurrency and rate.',
    host: config.HOST,
    port: config.PORT,
    shutdownHooks: options.shutdownHooks,
  });
}
