import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  BatchConsumer,
  BatchConsumerOptions,
  BatchHandler,
  EventPublisher,
  KAFKA,
  KAFKA_OPTIONS,
  KafkaModuleOptions,
} from '@tally/kafka';
import { Kafka } from 'kafkajs';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';

/** What a consumer chooses itself; the backoff, session timeout and crash policy are the app's. */
export type ConsumerSetup = Omit<BatchConsumerOptions, 'onFatal' | 'maxBackoffMs' | 'sessionTimeoutMs'>;

/** Builds metering's batch consumers on the app's Kafka client and dead-letter publisher. */
@Injectable()
export class MeteringConsumers {
  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(KAFKA_OPTIONS) private readonly kafkaOptions: KafkaModuleOptions,
    @Inject(METERING_CONFIG) private readonly config: MeteringConfig,
    private readonly publisher: EventPublisher,
  ) {}

  get topicPrefix(): string {
    return this.kafkaOptions.topicPrefix;
  }

  create<T>(handler: BatchHandler<T>, logger: Logger, name: string, setup: ConsumerSetup): BatchConsumer<T> {
    return new BatchConsumer(this.kafka, this.publisher, handler, {
      ...setup,
      maxBackoffMs: this.config.CONSUMER_MAX_BACKOFF_MS,
      sessionTimeoutMs: this.config.CONSUMER_SESSION_TIMEOUT_MS,
      onFatal: (error) => {
        // A consumer kafkajs gave up on must not leave a zombie app up: exit and be restarted.
        logger.fatal({ err: error }, `${name} consumer crashed; exiting`);
        process.exit(1);
      },
    });
  }
}
