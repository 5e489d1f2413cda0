import { DEFAULT_PARTITIONS, deadLetterTopic, Topics, topicName } from '@tally/contracts';
import { createKafka, ensureTopics } from '@tally/kafka';
import { createHttpApp } from '@tally/platform';
import { MeteringModule } from './app.module';
import { MeteringConfig } from './config/metering.config';
import { CONSUMED_TOPICS } from './consumers/event-decoder';
import { startNotifierTransport } from './notifier/notifier.transport';

export async function bootstrapMetering(config: MeteringConfig, options: { shutdownHooks?: boolean } = {}) {
  // What metering reads (and their dead-letter topics) and what its outbox writes.
  const consumed = [...CONSUMED_TOPICS, Topics.platformOrg].map((topic) => topicName(config.KAFKA_TOPIC_PREFIX, topic));
  await ensureTopics(
    createKafka('tally-metering-setup', config.KAFKA_BROKERS),
    [
      ...consumed,
      ...consumed.map(deadLetterTopic),
      topicName(config.KAFKA_TOPIC_PREFIX, Topics.ledgerPosted),
      topicName(config.KAFKA_TOPIC_PREFIX, Topics.alerts),
      deadLetterTopic(topicName(config.KAFKA_TOPIC_PREFIX, Topics.alerts)),
    ],
    DEFAULT_PARTITIONS,
    { replicationFactor: config.KAFKA_REPLICATION_FACTOR, minInsyncReplicas: config.KAFKA_MIN_INSYNC_REPLICAS },
  );
  const app = await createHttpApp(MeteringModule.forRoot(config), {
    title: 'Tally metering',
    description: 'Packages, the ledger and balances; ops usage queries.',
    host: config.HOST,
    port: config.PORT,
    shutdownHooks: options.shutdownHooks,
  });
  await startNotifierTransport(app, config);
  return app;
}
