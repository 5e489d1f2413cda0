import { Inject, Injectable, Logger, OnApplicationBootstrap, BeforeApplicationShutdown } from '@nestjs/common';
import { actionVerifiedEvent, ActionVerifiedEvent, describeIssues, Topics, topicName } from '@tally/contracts';
import {
  BatchConsumer,
  BatchHandler,
  Decoded,
  EventPublisher,
  InboundMessage,
  KAFKA,
  KAFKA_OPTIONS,
  KafkaModuleOptions,
} from '@tally/kafka';
import { Kafka, KafkaMessage } from 'kafkajs';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';
import { LedgerService, MeteredEvent } from '../ledger/ledger.service';

/** Parses one raw Kafka message into a verified-action event, or says why it is poison. */
export function decodeVerifiedAction(message: KafkaMessage): Decoded<ActionVerifiedEvent> {
  let json: unknown;
  try {
    json = JSON.parse(message.value?.toString('utf8') ?? '');
  } catch {
    return { ok: false, reason: 'value is not JSON' };
  }
  const parsed = actionVerifiedEvent.safeParse(json);
  if (!parsed.success)
    return { ok: false, reason: `not an ${Topics.actionVerified} event: ${describeIssues(parsed.error)}` };
  if (parsed.data.subject !== parsed.data.data.orgId) return { ok: false, reason: 'subject and data.orgId differ' };
  return { ok: true, value: parsed.data };
}

/** Consumes `auth.action.verified.v1` and posts what each action costs to the ledger. */
@Injectable()
export class VerifiedActionsConsumer
  implements BatchHandler<ActionVerifiedEvent>, OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger(VerifiedActionsConsumer.name);
  private consumer?: BatchConsumer<ActionVerifiedEvent>;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(KAFKA_OPTIONS) private readonly kafkaOptions: KafkaModuleOptions,
    @Inject(METERING_CONFIG) private readonly config: MeteringConfig,
    private readonly publisher: EventPublisher,
    private readonly ledger: LedgerService,
  ) {}

  decode(message: KafkaMessage): Decoded<ActionVerifiedEvent> {
    return decodeVerifiedAction(message);
  }

  async handle(messages: InboundMessage<ActionVerifiedEvent>[]): Promise<void> {
    const events: MeteredEvent[] = messages.map(({ value, topic, partition, offset }) => {
      const cost = this.config.ACTION_FIXED_COSTS.get(value.data.action) ?? 0n;
      return {
        source: value.source,
        id: value.id,
        topic,
        partition,
        offset,
        debits:
          cost > 0n
            ? [
                {
                  orgId: value.data.orgId,
                  kind: 'agent' as const,
                  amount: cost,
                  at: new Date(value.time),
                  action: value.data.action,
                  keyId: value.data.keyId,
                },
              ]
            : [],
      };
    });
    const result = await this.ledger.post(events);
    this.logger.debug({ ...result, batch: messages.length }, 'verified actions posted');
  }

  async onApplicationBootstrap(): Promise<void> {
    const prefix = this.kafkaOptions.topicPrefix;
    this.consumer = new BatchConsumer(this.kafka, this.publisher, this, {
      groupId: `${prefix}metering.ledger`,
      topics: [topicName(prefix, Topics.actionVerified)],
      onFatal: (error) => {
        // A consumer kafkajs gave up on must not leave a zombie app up: exit and be restarted.
        this.logger.fatal({ err: error }, 'kafka consumer crashed; exiting');
        process.exit(1);
      },
    });
    await this.consumer.start();
  }

  /** Drains: the batch in flight finishes and commits before connections close. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }
}
