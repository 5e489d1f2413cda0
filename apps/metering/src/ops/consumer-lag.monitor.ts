import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DEFAULT_PARTITIONS, deadLetterTopic, Topics, topicName } from '@tally/contracts';
import { KAFKA, KAFKA_OPTIONS, KafkaModuleOptions } from '@tally/kafka';
import { METRICS_REGISTRY } from '@tally/platform';
import { Admin, Kafka, Partitioners } from 'kafkajs';
import { Gauge, Registry } from 'prom-client';
import { CONSUMED_TOPICS } from '../consumers/event-decoder';
import { orgEventsGroup } from '../orgs/org-events.consumer';

const POLL_MS = 5_000;

export interface PipelineLag {
  group: string;
  /** When the broker last answered; null before the first successful poll. */
  polledAt: string | null;
  /** Every group metering consumes with (the ledger's first), per topic and partition. */
  partitions: { group: string; topic: string; partition: number; lag: number }[];
  deadLetters: { topic: string; messages: number }[];
}

/**
 * Consumer lag of metering's groups (the ledger's, and platform.org.v1's) per topic and
 * partition, and the number of messages in each dead-letter topic, polled from the broker (the group's committed offsets against each
 * partition's end) and exported as gauges. Also answers "how many of this org's events are not
 * posted yet" for the balances endpoint: the lag of the partitions its key maps to.
 */
@Injectable()
export class ConsumerLagMonitor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ConsumerLagMonitor.name);
  private readonly lagGauge: Gauge<'group' | 'topic' | 'partition'>;
  private readonly dlqGauge: Gauge<'topic'>;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private admin?: Admin;
  private timer?: NodeJS.Timeout;
  private lag = new Map<string, number>();
  private dlq = new Map<string, number>();
  private polledAt: Date | null = null;
  private polled = false;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(KAFKA_OPTIONS) private readonly options: KafkaModuleOptions,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.lagGauge = new Gauge({
      name: 'tally_consumer_lag',
      help: 'Messages not yet committed by the consumer group, per topic and partition',
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
    });
    this.dlqGauge = new Gauge({
      name: 'tally_dlq_messages',
      help: 'Messages in a dead-letter topic',
      labelNames: ['topic'],
      registers: [registry],
    });
  }

  get groupId(): string {
    return `${this.options.topicPrefix}metering.ledger`;
  }

  private get topics(): string[] {
    return CONSUMED_TOPICS.map((topic) => topicName(this.options.topicPrefix, topic));
  }

  /** Every group metering consumes with, and its topics. */
  private get groups(): { group: string; topics: string[] }[] {
    const prefix = this.options.topicPrefix;
    return [
      { group: this.groupId, topics: this.topics },
      { group: orgEventsGroup(prefix), topics: [topicName(prefix, Topics.platformOrg)] },
    ];
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref();
    void this.poll();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.admin?.disconnect().catch(() => undefined);
  }

  /** Events of this org's partitions not yet posted (all orgs of a partition share its lag); null before the first poll. */
  pendingFor(orgId: string): number | null {
    if (!this.polled) return null;
    const partitionMetadata = Array.from({ length: DEFAULT_PARTITIONS }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }));
    let pending = 0;
    for (const topic of this.topics) {
      const partition = this.partitioner({ topic, partitionMetadata, message: { key: orgId, value: null } });
      pending += this.lag.get(`${topic}|${partition}`) ?? 0;
    }
    return pending;
  }

  /** The last poll, for the ops console's pipeline health (no broker call: the gauges' values). */
  snapshot(): PipelineLag {
    const groupOf = new Map(this.groups.flatMap(({ group, topics }) => topics.map((topic) => [topic, group] as const)));
    return {
      group: this.groupId,
      polledAt: this.polledAt?.toISOString() ?? null,
      partitions: [...this.lag].map(([key, lag]) => {
        const [topic, partition] = key.split('|');
        return { group: groupOf.get(topic) ?? '', topic, partition: Number(partition), lag };
      }),
      deadLetters: [...this.dlq].map(([topic, messages]) => ({ topic, messages })),
    };
  }

  async poll(): Promise<void> {
    try {
      if (!this.admin) {
        this.admin = this.kafka.admin();
        await this.admin.connect();
      }
      const lag = new Map<string, number>();
      const dlqCounts = new Map<string, number>();
      for (const { group, topics } of this.groups) {
        const committed = await this.admin.fetchOffsets({ groupId: group, topics });
        for (const topic of topics) {
          const ends = await this.admin.fetchTopicOffsets(topic);
          const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
          for (const end of ends) {
            const offset = Number(mine.find((p) => p.partition === end.partition)?.offset ?? '-1');
            const behind = Number(end.high) - (offset < 0 ? Number(end.low) : offset);
            lag.set(`${topic}|${end.partition}`, Math.max(0, behind));
            this.lagGauge.labels(group, topic, String(end.partition)).set(Math.max(0, behind));
          }
          const dlq = deadLetterTopic(topic);
          const dlqEnds = await this.admin.fetchTopicOffsets(dlq).catch(() => []);
          const dead = dlqEnds.reduce((sum, p) => sum + Math.max(0, Number(p.high) - Number(p.low)), 0);
          dlqCounts.set(dlq, dead);
          this.dlqGauge.labels(dlq).set(dead);
        }
      }
      this.lag = lag;
      this.dlq = dlqCounts;
      this.polledAt = new Date();
      this.polled = true;
    } catch (error) {
      // Metrics must never take the app down: keep the last values and try again next period.
      this.logger.warn({ err: error }, 'consumer lag poll failed');
    }
  }
}
