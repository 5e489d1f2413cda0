import { Inject, Injectable, Logger } from '@nestjs/common';
import { admissionVoided, Errors, Topics, topicName, VoidReason, VoidReasons } from '@tally/contracts';
import { KAFKA_OPTIONS, KafkaModuleOptions, OutgoingEvent } from '@tally/kafka';
import { ADMISSION_CLIENT, AdmissionClient } from '../admission/admission.client';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';
import { EventBatcher, Unacknowledged } from './event-batcher.service';

export interface Admitted {
  orgId: string;
  admissionId: string | null;
}

export const callerGaveUp = () =>
  Errors.dependencyUnavailable("The caller's deadline passed; the metered action was refused.", 1);

/**
 * The verified event of a metered action: billed from it, so it must be acknowledged by Kafka
 * before the caller's deadline and auth's ack timeout, or the action is refused (503). A refused
 * action whose event may have been written (in flight, or in a split batch that failed half way)
 * is voided: an admission.voided event tells metering to bill nothing for it, and quota's
 * provisional hold is released.
 */
@Injectable()
export class MeteredEvents {
  private readonly logger = new Logger(MeteredEvents.name);
  private readonly voidedTopic: string;

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(KAFKA_OPTIONS) kafka: KafkaModuleOptions,
    @Inject(ADMISSION_CLIENT) private readonly admission: AdmissionClient,
    private readonly events: EventBatcher,
  ) {
    this.voidedTopic = topicName(kafka.topicPrefix, Topics.admissionVoided);
  }

  async publish(event: OutgoingEvent, admitted: Admitted, deadline?: number): Promise<void> {
    const remaining = deadline === undefined ? Infinity : deadline - Date.now();
    const timeoutMs = Math.min(this.config.EVENT_ACK_TIMEOUT_MS, remaining);
    if (timeoutMs <= 0) {
      this.releaseHold(admitted);
      throw callerGaveUp();
    }
    try {
      await this.events.sendAndWait(event, timeoutMs);
    } catch (error) {
      const gaveUp = deadline !== undefined && Date.now() >= deadline;
      this.logger.error({ err: error, ...admitted, gaveUp }, 'metered action refused: Kafka did not acknowledge');
      if (!(error instanceof Unacknowledged) || error.mayHaveBeenWritten) {
        this.voidAdmission(admitted, gaveUp ? VoidReasons.callerGaveUp : VoidReasons.refusedAfterPublish);
      }
      this.releaseHold(admitted);
      if (gaveUp) throw callerGaveUp();
      throw Errors.dependencyUnavailable(
        'Kafka is unavailable, so the metered action cannot be recorded; refused (failed closed).',
      );
    }
  }

  /**
   * The action was admitted by quota but refused here: its provisional hold would otherwise block
   * budget until its TTL. Best effort (the TTL is the safety net), without delaying the answer.
   */
  releaseHold({ orgId, admissionId }: Admitted): void {
    if (!admissionId) return;
    this.admission.release(orgId, admissionId).catch((error: unknown) => {
      this.logger.warn({ err: error, orgId, admissionId }, 'could not release the hold of a refused action');
    });
  }

  private voidAdmission({ orgId, admissionId }: Admitted, reason: VoidReason): void {
    if (!admissionId) return;
    const value = admissionVoided(this.config.EVENT_SOURCE, { orgId, admissionId, reason });
    this.events.sendUntilAcked({ topic: this.voidedTopic, key: orgId, value });
  }
}
