import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { describeIssues, OrgRequestedEvent, orgRequestedEvent, TallyError, Topics, topicName } from '@tally/contracts';
import { BatchConsumer, BatchHandler, Decoded, HandleResult, InboundMessage } from '@tally/kafka';
import { KafkaMessage } from 'kafkajs';
import { MeteringConsumers } from '../consumers/metering-consumers';
import { OrgsService } from './orgs.service';

/** The consumer group applying platform.org.v1. */
export const orgEventsGroup = (topicPrefix: string) => `${topicPrefix}metering.orgs`;

/** A platform.org.v1 message as it names itself, or why it is poison. */
export function decodeOrgEvent(message: KafkaMessage): Decoded<OrgRequestedEvent> {
  let json: unknown;
  try {
    json = JSON.parse(message.value?.toString('utf8') ?? '');
  } catch {
    return { ok: false, reason: 'value is not JSON', reasonClass: 'unparseable' };
  }
  const parsed = orgRequestedEvent.safeParse(json);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error), reasonClass: 'schema' };
  const event = parsed.data;
  const key = message.key?.toString() ?? null;
  if (event.subject !== event.data.orgId || key !== event.data.orgId)
    return {
      ok: false,
      reason: 'the Kafka key, subject and data.orgId must name the same organization',
      reasonClass: 'key',
    };
  return { ok: true, value: event };
}

/**
 * Applies platform.org.v1 (its own consumer group; low volume, one transaction per event, in
 * partition order): a redelivered event changes nothing (processed_events), an event that can
 * never apply (no such org, an existing id, an unknown plan) goes to platform.org.v1.dlq with
 * its reason.
 */
@Injectable()
export class OrgEventsConsumer implements BatchHandler<OrgRequestedEvent>, BeforeApplicationShutdown {
  private readonly logger = new Logger(OrgEventsConsumer.name);
  private consumer?: BatchConsumer<OrgRequestedEvent>;

  constructor(
    private readonly consumers: MeteringConsumers,
    private readonly orgs: OrgsService,
  ) {}

  decode(message: KafkaMessage): Decoded<OrgRequestedEvent> {
    return decodeOrgEvent(message);
  }

  async handle(messages: InboundMessage<OrgRequestedEvent>[]): Promise<HandleResult> {
    const rejected: NonNullable<HandleResult['rejected']> = [];
    for (const { value, topic, partition, offset } of messages) {
      try {
        await this.orgs.apply(value.data, { source: value.source, id: value.id, topic, partition, offset });
      } catch (error) {
        // A request that can never apply is poison; anything else (PostgreSQL, Redis) is retried.
        if (!(error instanceof TallyError) || error.status >= 500) throw error;
        this.logger.warn({ orgId: value.data.orgId, eventId: value.id, reason: error.message }, 'org event refused');
        rejected.push({ topic, partition, offset, reason: `${error.code}: ${error.message}`, reasonClass: 'refused' });
      }
    }
    return { rejected };
  }

  /** Joins its group once the topic exists (bootstrap's KafkaStartup; called again until the broker answers). */
  async start(): Promise<void> {
    const prefix = this.consumers.topicPrefix;
    this.consumer ??= this.consumers.create(this, this.logger, 'platform.org', {
      groupId: orgEventsGroup(prefix),
      topics: [topicName(prefix, Topics.platformOrg)],
    });
    await this.consumer.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }
}
