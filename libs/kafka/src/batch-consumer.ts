import { Logger } from '@nestjs/common';
import { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { deadLetterTopic } from '@tally/contracts';
import { packPartitionBatches } from './batch-packing';
import { EventPublisher } from './event-publisher';

export interface InboundMessage<T> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: T;
}

/**
 * What a handler says about one raw message before any I/O: usable, or poison with a reason (and
 * a short class such as `unparseable`, `schema`, `version`, for the `x-dlq-class` header).
 */
export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string; reasonClass?: string };

/** Messages a handler found to be poison only once it looked at the database (e.g. an unknown org). */
export interface HandleResult {
  rejected?: { topic: string; partition: number; offset: string; reason: string; reasonClass?: string }[];
}

type Rejected = NonNullable<HandleResult['rejected']>[number];

export interface BatchHandler<T> {
  /** Pure validation at the boundary: an invalid payload goes to the DLQ, never into a retry loop. */
  decode(message: KafkaMessage, topic: string): Decoded<T>;
  /**
   * Applies a batch durably (one transaction) and idempotently: a redelivered message must change
   * nothing. The batch may hold several partitions' batches fetched together (each message says
   * where it comes from). Throwing means "transient, try the same batch again later". Rejected
   * messages go to the dead-letter topic before the offsets are committed.
   */
  handle(messages: InboundMessage<T>[]): Promise<HandleResult | void>;
  /**
   * Whether a failure of `handle` is deterministic (the same messages would fail the same way
   * forever), and why: the batch is then split down to the message that causes it, which goes to
   * the dead-letter topic. Null (or no classifier): transient, the batch is retried as it is.
   */
  classify?(error: unknown): { reason: string; reasonClass: string } | null;
}

interface Poison {
  message: KafkaMessage;
  reason: string;
  reasonClass?: string;
}

/** One partition's decoded batch waiting to be handed to the handler with the rest of its fetch. */
interface PendingBatch<T> {
  topic: string;
  partition: number;
  size: number;
  messages: InboundMessage<T>[];
  done(rejected: Rejected[]): void;
  failed(error: unknown): void;
}

/**
 * kafkajs hands each partition's batch of a fetch to its own worker and fetches again only when
 * all are done: with a worker per partition, every batch of a fetch reaches `eachBatch` in the
 * same tick and can be combined. More than Tally ever assigns to one consumer (3 topics x 12).
 */
export const PARTITIONS_PER_FETCH = 256;

export interface BatchConsumerOptions {
  groupId: string;
  topics: string[];
  /** Called when the consumer crashed and kafkajs will not restart it: the process should exit. */
  onFatal: (error: Error) => void;
  maxBackoffMs?: number;
  /** Handler calls (batches, each one transaction for metering) in flight at once. */
  concurrency?: number;
  /**
   * The partition batches of one fetch are handed to the handler together, packed into calls of
   * about this many messages (1: one call per partition batch, as kafkajs hands them over).
   */
  messagesPerCall?: number;
  /** How long the group waits for a silent member (e.g. a SIGKILLed one) before rebalancing. */
  sessionTimeoutMs?: number;
  /** Upper bound of one fetch per partition: bounds a batch (and so a transaction). */
  maxBytesPerPartition?: number;
  /** Upper bound of one fetch in total: bounds the consumer's memory. */
  maxBytes?: number;
}

/**
 * The metering hot path's consumer: kafkajs `eachBatch`, auto-resolve and auto-commit off.
 * Offsets advance only after the handler has made the batch durable; poison goes to
 * `<topic>.dlq` with its reason and origin, whether the decoder or a deterministic failure of the
 * handler found it (the batch is split down to it); transient failures retry with backoff
 * (heartbeating, without committing) instead of crash-looping the consumer.
 *
 * The partition batches of one fetch are handed to the handler together (up to `messagesPerCall`
 * messages a call): at a steady rate each partition brings a few messages per fetch, and one
 * transaction per partition batch would spend most of its time on per-transaction costs (round
 * trips, commit, cache refresh) and on row locks shared with the same organizations' other
 * topics. Each partition still commits its own offsets, and only after the call that holds it.
 */
export class BatchConsumer<T> {
  private readonly logger = new Logger(BatchConsumer.name);
  private readonly consumer: Consumer;
  private stopping = false;
  private pending: PendingBatch<T>[] = [];
  private flushScheduled = false;
  private calls = 0;
  private readonly waitingForCall: (() => void)[] = [];
  private commits: { topic: string; partition: number; offset: string }[] = [];
  private commitFlush?: Promise<void>;

  constructor(
    kafka: Kafka,
    private readonly publisher: EventPublisher,
    private readonly handler: BatchHandler<T>,
    private readonly options: BatchConsumerOptions,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: Math.max(500, Math.floor((options.sessionTimeoutMs ?? 30_000) / 10)),
      maxWaitTimeInMs: 100,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      maxBytes: options.maxBytes ?? 10 * 1024 * 1024,
      retry: { retries: 10 },
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart && !this.stopping) options.onFatal(payload.error);
    });
  }

  /**
   * Joins the group and starts consuming. A start that fails (the broker unreachable) leaves the
   * consumer disconnected and may be called again (KafkaStartup does, until the broker answers);
   * one that ends after stop() was called stops again.
   */
  async start(): Promise<void> {
    if (this.stopping) return;
    try {
      await this.publisher.connect();
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: this.options.topics, fromBeginning: true });
      await this.consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: PARTITIONS_PER_FETCH,
        eachBatch: (payload) => this.consumeBatch(payload),
      });
    } catch (error) {
      await this.consumer.disconnect().catch(() => undefined);
      throw error;
    }
    if (this.stopping) await this.stop();
  }

  /** Stops fetching, lets the batch in flight finish and commit, then leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.stop();
    await this.consumer.disconnect();
  }

  private async consumeBatch(payload: EachBatchPayload) {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    const { valid, poison } = this.decodeAll(batch.topic, batch.partition, batch.messages);
    if (!(await this.applyUntilDurable(payload, valid, poison))) return;
    await this.commitAfter(payload);
  }

  /** Decodes a partition batch: usable messages, and poison with its reason. */
  private decodeAll(topic: string, partition: number, messages: KafkaMessage[]) {
    const valid: InboundMessage<T>[] = [];
    const poison: Poison[] = [];
    for (const message of messages) {
      let decoded: Decoded<T>;
      try {
        decoded = this.handler.decode(message, topic);
      } catch (error) {
        decoded = { ok: false, reason: `decoder failed: ${(error as Error).message}`, reasonClass: 'decoder' };
      }
      if (decoded.ok) {
        const key = message.key?.toString() ?? null;
        valid.push({ topic, partition, offset: message.offset, key, value: decoded.value });
      } else poison.push({ message, reason: decoded.reason, reasonClass: decoded.reasonClass });
    }
    return { valid, poison };
  }

  /**
   * Makes the batch durable and dead-letters its poison. A transient failure (PostgreSQL or Redis
   * down, a broker hiccup) holds this partition where it is: nothing is committed, the same batch
   * is retried with capped exponential backoff while the consumer keeps heartbeating, and it
   * resumes by itself. False: the partition was given up (stopping, rebalance) uncommitted.
   */
  private async applyUntilDurable(payload: EachBatchPayload, valid: InboundMessage<T>[], poison: Poison[]) {
    const { batch, isRunning, isStale } = payload;
    for (let attempt = 0; ; attempt++) {
      if (!isRunning() || isStale()) return false; // not committed: redelivered to whoever owns the partition
      try {
        const rejected = await this.handleTogether(batch.topic, batch.partition, valid);
        const byOffset = new Map(batch.messages.map((message) => [message.offset, message]));
        const found = rejected.map((r) => ({ ...r, message: byOffset.get(r.offset)! })).filter((r) => r.message);
        await this.deadLetter(batch.topic, batch.partition, [...poison, ...found]);
        if (attempt > 0)
          this.logger.log({ topic: batch.topic, partition: batch.partition, attempt }, 'batch recovered');
        return true;
      } catch (error) {
        if (!(await this.backOff(payload, attempt + 1, error))) return false;
      }
    }
  }

  /** Waits before the next attempt, heartbeating; false when a rebalance took the partition. */
  private async backOff({ batch, heartbeat, isRunning, isStale }: EachBatchPayload, attempt: number, error: unknown) {
    const cap = this.options.maxBackoffMs ?? 5_000;
    const delay = Math.min(cap, 100 * 2 ** Math.min(attempt, 10)) * (0.75 + Math.random() * 0.5);
    this.logger.warn(
      { err: error, topic: batch.topic, partition: batch.partition, attempt, retryInMs: Math.round(delay) },
      'batch failed; holding the partition and retrying without committing',
    );
    const until = Date.now() + delay;
    while (Date.now() < until && isRunning() && !isStale()) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, until - Date.now())));
    }
    try {
      await heartbeat();
      return true;
    } catch (heartbeatError) {
      // A rebalance is under way: give the partition back uncommitted rather than hold the group up.
      this.logger.warn({ err: heartbeatError, partition: batch.partition }, 'heartbeat failed; yielding the batch');
      return false;
    }
  }

  /** Commits the partition's next offset: only ever after its batch is durable. */
  private async commitAfter({ batch, resolveOffset, heartbeat }: EachBatchPayload) {
    const last = batch.messages[batch.messages.length - 1].offset;
    resolveOffset(last);
    try {
      await this.commit({ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() });
      await heartbeat();
    } catch (error) {
      // The batch is durable; an uncommitted offset only means a harmless (deduplicated) redelivery.
      this.logger.warn({ err: error, topic: batch.topic, partition: batch.partition }, 'offset commit failed');
    }
  }

  /**
   * Hands a partition's messages to the handler with the other partition batches that reach this
   * point in the same tick (those of the same fetch), packed into calls of about
   * `messagesPerCall`; resolves with this partition's rejected messages once its call is durable.
   */
  private handleTogether(topic: string, partition: number, messages: InboundMessage<T>[]): Promise<Rejected[]> {
    if (messages.length === 0) return Promise.resolve([]);
    return new Promise((done, failed) => {
      this.pending.push({ topic, partition, size: messages.length, messages, done, failed });
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        const batches = this.pending;
        this.pending = [];
        for (const call of packPartitionBatches(batches, this.options.messagesPerCall ?? 1)) void this.call(call);
      });
    });
  }

  private async call(batches: PendingBatch<T>[]): Promise<void> {
    // At most `concurrency` calls at once: each holds a database connection for its transaction.
    if (this.calls >= (this.options.concurrency ?? 1)) await new Promise<void>((go) => this.waitingForCall.push(go));
    this.calls += 1;
    try {
      const rejected = await this.handleIsolating(
        batches.length === 1 ? batches[0].messages : batches.flatMap((b) => b.messages),
      );
      for (const batch of batches) {
        batch.done(rejected.filter((r) => r.topic === batch.topic && r.partition === batch.partition));
      }
    } catch (error) {
      for (const batch of batches) batch.failed(error);
    } finally {
      this.calls -= 1;
      this.waitingForCall.shift()?.();
    }
  }

  /**
   * Hands `messages` to the handler. A deterministic failure (see `classify`) splits them in
   * halves, in order, down to the single message that causes it, which comes back rejected with
   * the failure as its reason; the other messages are posted. A transient failure throws.
   */
  private async handleIsolating(messages: InboundMessage<T>[]): Promise<Rejected[]> {
    try {
      return (await this.handler.handle(messages))?.rejected ?? [];
    } catch (error) {
      const poison = this.handler.classify?.(error) ?? null;
      if (!poison) throw error;
      if (messages.length === 1) {
        const [{ topic, partition, offset }] = messages;
        return [{ topic, partition, offset, ...poison }];
      }
      this.logger.warn({ err: error, messages: messages.length }, 'deterministic failure; splitting the batch');
      const half = Math.ceil(messages.length / 2);
      const first = await this.handleIsolating(messages.slice(0, half));
      return [...first, ...(await this.handleIsolating(messages.slice(half)))];
    }
  }

  /**
   * Commits a partition's next offset together with the other partitions' commits of the same
   * tick (the batches of one call finish together): one OffsetCommit request instead of one each.
   */
  private commit(offset: { topic: string; partition: number; offset: string }): Promise<void> {
    this.commits.push(offset);
    this.commitFlush ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const offsets = this.commits;
      this.commits = [];
      this.commitFlush = undefined;
      return this.consumer.commitOffsets(offsets);
    });
    return this.commitFlush;
  }

  private async deadLetter(topic: string, partition: number, poison: Poison[]) {
    if (poison.length === 0) return;
    for (const { message, reason } of poison) {
      this.logger.warn({ topic, partition, offset: message.offset, reason }, 'message sent to dead-letter topic');
    }
    await this.publisher.publish(
      ...poison.map(({ message, reason, reasonClass }) => ({
        topic: deadLetterTopic(topic),
        key: message.key?.toString() ?? 'unknown',
        value: message.value ?? Buffer.alloc(0),
        headers: {
          ...message.headers,
          'x-dlq-reason': reason,
          'x-dlq-class': reasonClass ?? 'poison',
          'x-dlq-topic': topic,
          'x-dlq-partition': String(partition),
          'x-dlq-offset': message.offset,
        },
      })),
    );
  }
}
