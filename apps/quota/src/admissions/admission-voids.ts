import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { admissionVoided, Topics, topicName, VoidReason } from '@tally/contracts';
import { EventPublisher } from '@tally/kafka';
import { QUOTA_CONFIG, QuotaConfig } from '../config/quota.config';

export const VOID_PUBLISHER = Symbol('VOID_PUBLISHER');

/**
 * Tells metering that an admission will not run (`auth.admission.voided.v1`): it releases the
 * durable hold or reverses the debit, or bills nothing if the void comes first. Awaited: a
 * release answers 200 only once Kafka has the void.
 */
@Injectable()
export class AdmissionVoids implements OnApplicationShutdown {
  private readonly topic: string;

  constructor(
    @Inject(QUOTA_CONFIG) private readonly config: QuotaConfig,
    @Inject(VOID_PUBLISHER) private readonly publisher: EventPublisher,
  ) {
    this.topic = topicName(config.KAFKA_TOPIC_PREFIX, Topics.admissionVoided);
  }

  async publish(orgId: string, admissionId: string, reason: VoidReason): Promise<void> {
    const event = admissionVoided(this.config.VOID_SOURCE, { orgId, admissionId, reason });
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.config.VOID_ACK_TIMEOUT_MS;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Kafka did not acknowledge within ${timeoutMs} ms`)), timeoutMs);
    });
    const sent = this.publisher.publish({ topic: this.topic, key: orgId, value: event });
    sent.catch(() => undefined);
    await Promise.race([sent, timeout]).finally(() => clearTimeout(timer));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.publisher.disconnect().catch(() => undefined);
  }
}
