import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { Kafka } from 'kafkajs';
import { EventPublisher } from './event-publisher';
import { createKafka } from './kafka-client';

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
        {
          provide: EventPublisher,
          inject: [KAFKA],
          useFactory: async (kafka: Kafka) => {
            const publisher = new EventPublisher(kafka);
            await publisher.connect();
            return publisher;
          },
        },
        PublisherCloser,
      ],
      exports: [KAFKA, KAFKA_OPTIONS, EventPublisher],
    };
  }
}

/** Ready when the cluster answers a metadata request (a short-lived admin connection per probe). */
export const kafkaHealth = (kafka: Kafka) => ({
  name: 'kafka',
  check: async () => {
    const admin = kafka.admin();
    try {
      await admin.connect();
      return await admin.describeCluster();
    } finally {
      await admin.disconnect();
    }
  },
});
