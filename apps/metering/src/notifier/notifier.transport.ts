import { INestApplication } from '@nestjs/common';
import { MicroserviceOptions, Transport } from '@nestjs/microservices';
import { MeteringConfig } from '../config/metering.config';

/**
 * Connects the notifier's Kafka consumer to the running metering app (a hybrid app). `postfixId`
 * is empty: the transport would otherwise append `-server` to the group and client ids (STYLE.md).
 */
export async function startNotifierTransport(app: INestApplication, config: MeteringConfig): Promise<void> {
  if (config.NOTIFIER !== 'true') return;
  app.connectMicroservice<MicroserviceOptions>(
    {
      transport: Transport.KAFKA,
      options: {
        postfixId: '',
        client: { clientId: 'tally-metering-notifier', brokers: config.KAFKA_BROKERS },
        consumer: {
          groupId: `${config.KAFKA_TOPIC_PREFIX}metering.notifier`,
          sessionTimeout: config.CONSUMER_SESSION_TIMEOUT_MS,
          heartbeatInterval: Math.max(500, Math.floor(config.CONSUMER_SESSION_TIMEOUT_MS / 10)),
          maxWaitTimeInMs: 100,
        },
        // A new group starts at the beginning: an alert raised before the group joined is still delivered
        // (deliveries are unique per endpoint and alert, so reading one twice changes nothing).
        subscribe: { fromBeginning: true },
      },
    },
    { inheritAppConfig: true },
  );
  await app.startAllMicroservices();
}
