import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { topicName } from '@tally/contracts';
import { BatchConsumer, BatchHandler, Decoded, HandleResult, InboundMessage } from '@tally/kafka';
import { KafkaMessage } from 'kafkajs';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';
import { LedgerService } from '../ledger/ledger.service';
import { MeteringEvent } from '../ledger/metering-event';
import { CONSUMED_TOPICS, decodeMeteringEvent } from './event-decoder';
import { classifyPostingFailure } from './failure-class';
import { MeteringConsumers } from './metering-consumers';

/**
 * Consumes verified actions, sandbox runtime reports and agent usage (one consumer group, org-keyed
 * partitions) and posts each batch (the partition batches of a fetch, combined up to
 * CONSUMER_BATCH_EVENTS) to the ledger in one transaction.
 */
@Injectable()
export class MeteringConsumer implements BatchHandler<MeteringEvent>, BeforeApplicationShutdown {
  private readonly logger = new Logger(MeteringConsumer.name);
  private consumer?: BatchConsumer<MeteringEvent>;

  constructor(
    private readonly consumers: MeteringConsumers,
    @Inject(METERING_CONFIG) private readonly config: MeteringConfig,
    private readonly ledger: LedgerService,
  ) {}

  decode(message: KafkaMessage, topic: string): Decoded<MeteringEvent> {
    return decodeMeteringEvent(message, topic);
  }

  classify(error: unknown) {
    return classifyPostingFailure(error);
  }

  async handle(messages: InboundMessage<MeteringEvent>[]): Promise<HandleResult> {
    // The decoded events are this consumer's own: they learn where they were read in place.
    const events = messages.map(({ value, topic, partition, offset }) => {
      value.topic = topic;
      value.partition = partition;
      value.offset = offset;
      return value;
    });
    // A batch can hold several topics' partition batches (e.g. a sandbox's create and its first
    // runtime report): posted in event-time order, what happened first is posted first. The
    // sort is stable, so a partition's order stands wherever times tie.
    if (new Set(messages.map((m) => m.topic)).size > 1) events.sort((a, b) => a.at.getTime() - b.at.getTime());
    const result = await this.ledger.post(events);
    this.logger.debug({ applied: result.applied, duplicates: result.duplicates, batch: messages.length }, 'posted');
    return {
      rejected: result.rejected.map(({ event, reason, reasonClass }) => ({
        topic: event.topic,
        partition: event.partition,
        offset: event.offset,
        reason,
        reasonClass,
      })),
    };
  }

  /**
   * Joins the group and starts consuming (called by bootstrap's KafkaStartup once the topics exist;
   * a failed start is cleaned up and called again until the broker answers).
   */
  async start(): Promise<void> {
    const prefix = this.consumers.topicPrefix;
    this.consumer ??= this.consumers.create(this, this.logger, 'kafka', {
      groupId: `${prefix}metering.ledger`,
      topics: CONSUMED_TOPICS.map((topic) => topicName(prefix, topic)),
      concurrency: this.config.CONSUMER_CONCURRENCY,
      messagesPerCall: this.config.CONSUMER_BATCH_EVENTS,
      maxBytesPerPartition: this.config.CONSUMER_MAX_BYTES_PER_PARTITION,
      maxBytes: this.config.CONSUMER_MAX_BYTES,
    });
    await this.consumer.start();
  }

  /** Drains: the batch in flight finishes and commits before connections close. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }
}
