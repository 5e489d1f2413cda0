import { DEFAULT_PARTITIONS, deadLetterTopic, Topics, topicName } from '@tally/contracts';
import { createKafka, ensureTopics, KafkaStartup } from '@tally/kafka';
import { createHttpApp } from '@tally/platform';
import { MeteringModule } from './app.module';
import { MeteringConfig } from './config/metering.config';
import { CONSUMED_TOPICS } from './consumers/event-decoder';
import { MeteringConsumer } from './consumers/metering.consumer';
import { startNotifierTransport } from './notifier/notifier.transport';
import { OrgEventsConsumer } from './orgs/org-events.consumer';

/**
 * Listens at once; what needs Kafka (its topics, the ledger consumer, the notifier's consumer)
 * starts in the background and waits for the broker as long as it takes, /health/ready naming
 * kafka meanwhile (KafkaStartup; issue 16).
 */
export async function bootstrapMetering(config: MeteringConfig, options: { shutdownHooks?: boolean } = {}) {
  // What metering reads (and their dead-letter topics) and what its outbox writes.
  const consumed = [...CONSUMED_TOPICS, Topics.platformOrg].map((topic) => topicName(config.KAFKA_TOPIC_PREFIX, topic));
  const topics = [
    ...consumed,
    ...consumed.map(deadLetterTopic),
    topicName(config.KAFKA_TOPIC_PREFIX, Topics.ledgerPosted),
    topicName(config.KAFKA_TOPIC_PREFIX, Topics.alerts),
    deadLetterTopic(topicName(config.KAFKA_TOPIC_PREFIX, Topics.alerts)),
  ];
  const app = await createHttpApp(MeteringModule.forRoot(config), {
    title: 'Tally metering',
    description: 'Packages, the ledger and balances; ops usage queries.',
    host: config.HOST,
    port: config.PORT,
    shutdownHooks: options.shutdownHooks,
  });
  const setup = createKafka('tally-metering-setup', config.KAFKA_BROKERS);
  const replication = {
    replicationFactor: config.KAFKA_REPLICATION_FACTOR,
    minInsyncReplicas: config.KAFKA_MIN_INSYNC_REPLICAS,
  };
  void app.get(KafkaStartup).start([
    { name: 'topics', run: () => ensureTopics(setup, topics, DEFAULT_PARTITIONS, replication) },
    { name: 'ledger consumer', run: () => app.get(MeteringConsumer).start() },
    { name: 'org events consumer', run: () => app.get(OrgEventsConsumer).start() },
    { name: 'notifier consumer', run: () => startNotifierTransport(app, config) },
  ]);
  return app;
}
