import { CompressionTypes, IHeaders, Kafka, Message, Producer, RetryOptions } from 'kafkajs';
import { KeyPartitioner } from './key-partitioner';

/** Produce request budget: half the broker's default `message.max.bytes`, room for batch framing. */
const MAX_REQUEST_BYTES = 512 * 1024;
/** A record's framing (offset and timestamp deltas, lengths, attributes), rounded up. */
const RECORD_OVERHEAD_BYTES = 32;

const headerBytes = (event: { headers?: IHeaders }): number => {
  let bytes = 0;
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    bytes += Buffer.byteLength(name);
    for (const item of Array.isArray(value) ? value : [value])
      bytes += item === undefined ? 0 : Buffer.byteLength(item);
  }
  return bytes;
};

export interface OutgoingEvent {
  topic: string;
  /** The organization id: all of one org's events share a partition, in order. */
  key: string;
  value: unknown;
  headers?: IHeaders;
}

/**
 * The one way events leave a Tally service: an idempotent producer with acks from all in-sync
 * replicas. `publish` resolves only once Kafka has acknowledged, so a caller that needs
 * durability awaits it and a failure is never silent.
 */
export class EventPublisher {
  private readonly producer: Producer;
  private connected?: Promise<void>;

  /** `retry`: the producer's own (kafkajs retries a failed produce request with backoff). */
  constructor(kafka: Kafka, retry?: RetryOptions) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // murmur2, as the Java client: an org lands on the same partition whoever produces it.
      createPartitioner: KeyPartitioner,
      ...(retry ? { retry } : {}),
    });
  }

  connect(): Promise<void> {
    // A failed connection is not kept: the next publish tries again (Kafka down at start, then back).
    this.connected ??= this.producer.connect().catch((error: unknown) => {
      this.connected = undefined;
      throw error;
    });
    return this.connected;
  }

  /**
   * Sends the events in order. A large publish goes out as several produce requests of at most
   * MAX_REQUEST_BYTES, one after another: the broker refuses a partition's record batch beyond its
   * `message.max.bytes` (1 MiB by default), and one call can put everything on one partition (one
   * organization's events, or a ledger batch of orgs that share a partition).
   */
  async publish(...events: OutgoingEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.connect();
    let request: (Message & { topic: string })[] = [];
    let bytes = 0;
    for (const event of events) {
      const value =
        typeof event.value === 'string' || Buffer.isBuffer(event.value) ? event.value : JSON.stringify(event.value);
      const size = RECORD_OVERHEAD_BYTES + Buffer.byteLength(event.key) + Buffer.byteLength(value) + headerBytes(event);
      if (request.length > 0 && bytes + size > MAX_REQUEST_BYTES) {
        await this.send(request);
        request = [];
        bytes = 0;
      }
      request.push({ topic: event.topic, key: event.key, value, headers: event.headers });
      bytes += size;
    }
    await this.send(request);
  }

  private async send(messages: (Message & { topic: string })[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const { topic, ...message } of messages) {
      const list = byTopic.get(topic);
      if (list) list.push(message);
      else byTopic.set(topic, [message]);
    }
    await this.producer.sendBatch({
      acks: -1,
      compression: CompressionTypes.None,
      topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
    });
  }

  async disconnect(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
    this.connected = undefined;
  }
}
