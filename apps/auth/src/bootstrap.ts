import { DEFAULT_PARTITIONS, Topics, topicName } from '@tally/contracts';
import { createKafka, ensureTopics, EventPublisher, KafkaStartup } from '@tally/kafka';
import { createHttpApp } from '@tally/platform';
import { AuthModule, AuthModuleOptions } from './app.module';
import { AuthConfig } from './config/auth.config';

/**
 * Listens at once; its topics and its producer wait for the broker in the background for as long
 * as it takes, /health/ready naming kafka meanwhile (KafkaStartup; issue 16). Metered actions
 * meanwhile fail closed (503), as they do whenever Kafka does not acknowledge.
 */
export async function bootstrapAuth(config: AuthConfig, options: { shutdownHooks?: boolean } & AuthModuleOptions = {}) {
  const topics = [Topics.actionVerified, Topics.actionDenied, Topics.admissionVoided].map((topic) =>
    topicName(config.KAFKA_TOPIC_PREFIX, topic),
  );
  const app = await createHttpApp(AuthModule.forRoot(config, { admissionClient: options.admissionClient }), {
    title: 'Tally auth',
    description:
      'API keys and their verification against the platform permission model. Upstream services call ' +
      '/v1/verify with their service credential; key management needs a dashboard user JWT (Bearer). ' +
      'Every error answers {code, message, requestId}.',
    host: config.HOST,
    port: config.PORT,
    shutdownHooks: options.shutdownHooks,
    document: (builder) => builder.addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'dashboard'),
  });
  const setup = createKafka('tally-auth-setup', config.KAFKA_BROKERS);
  void app.get(KafkaStartup).start([
    {
      name: 'topics',
      run: () =>
        ensureTopics(setup, topics, DEFAULT_PARTITIONS, {
          replicationFactor: config.KAFKA_REPLICATION_FACTOR,
          minInsyncReplicas: config.KAFKA_MIN_INSYNC_REPLICAS,
        }),
    },
    { name: 'producer', run: () => app.get(EventPublisher).connect() },
  ]);
  return app;
}
