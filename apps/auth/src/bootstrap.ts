import { DEFAULT_PARTITIONS, Topics, topicName } from '@tally/contracts';
import { createKafka, ensureTopics } from '@tally/kafka';
import { createHttpApp } from '@tally/platform';
import { AuthModule, AuthModuleOptions } from './app.module';
import { AuthConfig } from './config/auth.config';

export async function bootstrapAuth(config: AuthConfig, options: { shutdownHooks?: boolean } & AuthModuleOptions = {}) {
  const topics = [Topics.actionVerified, Topics.actionDenied].map((topic) =>
    topicName(config.KAFKA_TOPIC_PREFIX, topic),
  );
  await ensureTopics(createKafka('tally-auth-setup', config.KAFKA_BROKERS), topics, DEFAULT_PARTITIONS);
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
