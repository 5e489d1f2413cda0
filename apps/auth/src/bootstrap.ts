import { DEFAULT_PARTITIONS, Topics, topicName } from '@tally/contracts';
import { createKafka, ensureTopics } from '@tally/kafka';
import { createHttpApp } from '@tally/platform';
import { AuthModule, AuthModuleOptions } from './app.module';
import { AuthConfig } from './config/auth.config';

/**
 * Creating topics is idempotent, and a loaded broker sometimes answers the metadata that follows
 * a creation with "does not host this topic-partition" for a while: try again before giving up.
 */
async function withRetries<T>(work: () => Promise<T>, attempts = 4, delayMs = 1_000): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs * attempt));
    }
  }
}

export async function bootstrapAuth(config: AuthConfig, options: { shutdownHooks?: boolean } & AuthModuleOptions = {}) {
  const topics = [Topics.actionVerified, Topics.actionDenied, Topics.admissionVoided].map((topic) =>
    topicName(config.KAFKA_TOPIC_PREFIX, topic),
  );
  await withRetries(() =>
    ensureTopics(createKafka('tally-auth-setup', config.KAFKA_BROKERS), topics, DEFAULT_PARTITIONS, {
      replicationFactor: config.KAFKA_REPLICATION_FACTOR,
      minInsyncReplicas: config.KAFKA_MIN_INSYNC_REPLICAS,
    }),
  );
  return createHttpApp(AuthModule.forRoot(config, { admissionClient: options.admissionClient }), {
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
}
