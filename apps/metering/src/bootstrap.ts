import { DEFAULT_PARTITIONS, deadLetterTopic, Topics, topicName } from '@tally/contracts';
import { createKafka, ensureTopics } from '@tally/kafka';
import { createHttpApp } from '@tally/platform';
import { MeteringModule } from './app.module';
import { MeteringConfig } from './config/metering.config';

export async function bootstrapMetering(config: MeteringConfig, options: { shutdownHooks?: boolean } = {}) {
  const topic = topicName(config.KAFKA_TOPIC_PREFIX, Topics.actionVerified);
  await ensureTopics(
    createKafka('tally-metering-setup', config.KAFKA_BROKERS),
    [topic, deadLetterTopic(topic)],
    DEFAULT_PARTITIONS,
  );
  return createHttpApp(MeteringModule.forRoot(config), {
    title: 'Tally metering',
    description: 'Packages, the ledger and balances; ops usage queries.',
    host: config.HOST,
    port: config.PORT,
    shutdownHooks: options.shutdownHooks,
  });
}
