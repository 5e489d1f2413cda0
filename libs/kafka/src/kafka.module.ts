import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { Kafka } from 'kafkajs';
import { EventPublisher } from './event-publisher';
import { createKafka } from './kafka-client';
import { KafkaStartup } from './kafka-startup';

export const KAFKA = Symbol('KAFKA');

export interface KafkaModuleOptions {
  clientId: string;
  brokers: string[];
  /** Prefix of every topic and group id (empty in production; unique per test file). */
  topicPrefix: string;
}

export const KAFKA_OPTIONS = Symbol('KAFKA_OPTIONS');

class PublisherCloser implements OnApplicationShutdown {
  constructor(@Inject(EventPublisher) private readonly publisher: EventPublisher) {}

  async onApplicationShutdown(): Promise<void> {
    await this.publisher.disconnect();
  }
}

@Global()
@Module({})
export class KafkaModule {
  static forRoot(options: KafkaModuleOptions): DynamicModule {
    return {
      module: KafkaModule,
      providers: [
        { provide: KAFKA_OPTIONS, useValue: options },
        { provide: KAFKA, useFactory: () => createKafka(options.clientId, options.brokers) },
        // Connected by the app's KafkaStartup (in the background: a broker down at start must not
        // hold the app's start), or on first use.
        { provide: EventPublisher, inject: [KAFKA], useFactory: (kafka: Kafka) => new EventPublisher(kafka) },
        { provide: KafkaStartup, useFactory: () => new KafkaStartup() },
        PublisherCloser,
      ],
      exports: [KAFKA, KAFKA_OPTIONS, EventPublisher, KafkaStartup],
    };
  }
}

/** Whether the cluster answers a metadata request (a short-lived admin connection per probe). */
async function clusterAnswers(kafka: Kafka): Promise<unknown> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await admin.describeCluster();
  } finally {
    await admin.disconnect();
  }
}

/** Ready once the app's Kafka start-up is done (down, saying what it waits for, until then) and while the cluster answers. */
export const kafkaHealth = (kafka: Kafka, startup: KafkaStartup) => startup.health(kafka, clusterAnswers);
