import { Logger } from '@nestjs/common';
import { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { deadLetterTopic } from '@tally/contracts';
import { EventPublisher } from './event-publisher';

export interface InboundMessage<T> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: T;
}

/** What a handler says about one raw message before any I/O: usable, or poison with a reason. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface BatchHandler<T> {
  /** Pure validation at the boundary: an invalid payload goes to the DLQ, never into a retry loop. */
  decode(message: KafkaMessage, topic: string): Decoded<T>;
  /**
   * Applies a batch durably (one transaction) and idempotently: a redelivered message must change
   * nothing. Throwing means "transient, try the same batch again later".
   */
  handle(messages: InboundMessage<T>[]): Promise<void>;
}

export interface BatchConsumerOptions {
  groupId: string;
  topics: string[];
  /** Called when the consumer crashed and kafkajs will not restart it: the process should exit. */
  onFatal: (error: Error) => void;
  maxBackoffMs?: number;
}

/**
 * The metering hot path's consumer: kafkajs `eachBatch`, auto-resolve and auto-commit off.
 * Offsets advance only after the handler has made the batch durable; poison goes to
 * `<topic>.dlq` with its reason and origin; transient failures retry with backoff (heartbeating,
 * without committing) instead of crash-looping the consumer.
 */
export class BatchConsumer<T> {
  private readonly logger = new Logger(BatchConsumer.name);
  private readonly consumer: Consumer;
  private stopping = false;

  constructor(
    kafka: Kafka,
    private readonly publisher: EventPublisher,
    private readonly handler: BatchHandler<T>,
    private readonly options: BatchConsumerOptions,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      maxWaitTimeInMs: 100,
      maxBytesPerPartition: 1024 * 1024,
      retry: { retries: 10 },
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart && !this.stopping) options.onFatal(payload.error);
    });
  }

  async start(): Promise<void> {
    await this.publisher.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.options.topics, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.consumeBatch(payload),
    });
  }

  /** Stops fetching, lets the batch in flight finish and commit, then leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.stop();
    await this.consumer.disconnect();
  }

  private async consumeBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) {
    if (batch.messages.length === 0) return;
    const valid: InboundMessage<T>[] = [];
    const poison: { message: KafkaMessage; reason: string }[] = [];
    for (const message of batch.messages) {
      let decoded: Decoded<T>;
      try {
        decoded = this.handler.decode(message, batch.topic);
      } catch (error) {
        decoded = { ok: false, reason: `decoder failed: ${(error as Error).message}` };
      }
      if (decoded.ok) {
        valid.push({
          topic: batch.topic,
          partition: batch.partition,
          offset: message.offset,
          key: message.key?.toString() ?? null,
          value: decoded.value,
        });
      } else poison.push({ message, reason: decoded.reason });
    }

    let attempt = 0;
    for (;;) {
      if (!isRunning() || isStale()) return; // not committed: redelivered to whoever owns the partition
      try {
        await this.deadLetter(batch.topic, batch.partition, poison);
        await this.handler.handle(valid);
        break;
      } catch (error) {
        attempt += 1;
        const delay = Math.min(this.options.maxBackoffMs ?? 5_000, 100 * 2 ** Math.min(attempt, 10));
        this.logger.warn(
          { err: error, topic: batch.topic, partition: batch.partition, attempt, retryInMs: delay },
          'batch failed; retrying without committing',
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
        await heartbeat().catch(() => undefined);
      }
    }

    const last = batch.messages[batch.messages.length - 1].offset;
    resolveOffset(last);
    await this.consumer.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
    ]);
    await heartbeat();
  }

  private async deadLetter(topic: string, partition: number, poison: { message: KafkaMessage; reason: string }[]) {
    if (poison.length === 0) return;
    for (const { message, reason } of poison) {
      this.logger.warn({ topic, partition, offset: message.offset, reason }, 'message sent to dead-letter topic');
    }
    await this.publisher.publish(
      ...poison.map(({ message, reason }) => ({
        topic: deadLetterTopic(topic),
        key: message.key?.toString() ?? 'unknown',
        value: message.value ?? Buffer.alloc(0),
        headers: {
          ...message.headers,
          'x-dlq-reason': reason,
          'x-dlq-topic': topic,
          'x-dlq-partition': String(partition),
          'x-dlq-offset': message.offset,
        },
      })),
    );
  }
}
