import { DEFAULT_PARTITIONS, Topics, topicName } from '@tally/contracts';
import { createKafka, ensureTopics, KafkaStartup } from '@tally/kafka';
import { createHttpApp } from '@tally/platform';
import { QuotaModule } from './app.module';
import { QuotaConfig } from './config/quota.config';

/** Listens at once; its topic is created in the background once the broker answers (KafkaStartup). */
export async function bootstrapQuota(config: QuotaConfig, options: { shutdownHooks?: boolean } = {}) {
  const app = await createHttpApp(QuotaModule.forRoot(config), {
    title: 'Tally quota',
    description: 'Admission decisions: balance, holds, concurrency and rate.',
    host: config.HOST,
    port: config.PORT,
    shutdownHooks: options.shutdownHooks,
  });
  // Releases publish admission.voided (auth does too, and metering consumes it).
  const setup = createKafka('tally-quota-setup', config.KAFKA_BROKERS);
  void app.get(KafkaStartup).start([
    {
      name: 'topics',
      run: () =>
        ensureTopics(setup, [topicName(config.KAFKA_TOPIC_PREFIX, Topics.admissionVoided)], DEFAULT_PARTITIONS, {
          replicationFactor: config.KAFKA_REPLICATION_FACTOR,
          minInsyncReplicas: config.KAFKA_MIN_INSYNC_REPLICAS,
        }),
    },
  ]);
  return app;
}
