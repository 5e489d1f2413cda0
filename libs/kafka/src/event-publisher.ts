import { CompressionTypes, IHeaders, Kafka, Partitioners, Producer } from 'kafkajs';

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

  constructor(kafka: Kafka) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // murmur2, as the Java client: an org lands on the same partition whoever produces it.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  connect(): Promise<void> {
    this.connected ??= this.producer.connect();
    return this.connected;
  }

  async publish(...events: OutgoingEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.connect();
    const byTopic = new Map<string, OutgoingEvent[]>();
    for (const event of events) {
      const list = byTopic.get(event.topic);
      if (list) list.push(event);
      else byTopic.set(event.topic, [event]);
    }
    await this.producer.sendBatch({
      acks: -1,
      compression: CompressionTypes.None,
      topicMessages: [...byTopic].map(([topic, list]) => ({
        topic,
        messages: list.map((event) => ({
          key: event.key,
          value:
            typeof event.value === 'string' || Buffer.isBuffer(event.value) ? event.value : JSON.stringify(event.value),
          headers: event.headers,
        })),
      })),
    });
  }

  async disconnect(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
    this.connected = undefined;
  }
}
