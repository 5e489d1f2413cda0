import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Errors, TallyError } from '@tally/contracts';
import { EventPublisher, KAFKA, OutgoingEvent } from '@tally/kafka';
import { METRICS_REGISTRY } from '@tally/platform';
import type { Kafka } from 'kafkajs';
import { Counter, Registry } from 'prom-client';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';

interface Pending {
  event: OutgoingEvent;
  acked?: () => void;
  failed?: (error: unknown) => void;
  /** Nobody waits any more: dropped if still queued, never sent late. */
  abandoned?: boolean;
  /** Handed to the producer: it may be written whatever is answered. */
  sent?: boolean;
}

/** A metered event without Kafka's acknowledgement; `mayHaveBeenWritten` when it had left the queue. */
export class Unacknowledged extends Error {
  constructor(
    message: string,
    readonly mayHaveBeenWritten: boolean,
  ) {
    super(message);
  }
}

const MAX_BATCH = 2_000;

/** The event with its value serialized now: a value that cannot be serialized fails its own request, never a batch. */
const serialized = (event: OutgoingEvent): OutgoingEvent =>
  typeof event.value === 'string' ? event : { ...event, value: JSON.stringify(event.value) };
/** A void Kafka refused is offered again after this long, until it is acknowledged. */
const RESEND_MS = 500;
/** Shutdown waits at most this long for voids still unacknowledged. */
const SHUTDOWN_VOIDS_MS = 5_000;

/**
 * One idempotent producer and what waits for it. The producer allows a single request in flight,
 * so everything queued meanwhile leaves together in the next batch (group commit).
 */
class Lane {
  queue: Pending[] = [];
  private sending?: Promise<void>;

  constructor(
    readonly publisher: EventPublisher,
    private readonly onUnsent: (batch: Pending[], error: unknown) => void,
  ) {}

  get busy(): boolean {
    return this.sending !== undefined;
  }

  kick(): Promise<void> {
    this.sending ??= this.drain().finally(() => (this.sending = undefined));
    return this.sending;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      // A metered event whose caller already gave up is dropped here, before it can be written.
      const batch = this.queue.splice(0, MAX_BATCH).filter((pending) => !pending.abandoned);
      if (batch.length === 0) continue;
      for (const pending of batch) pending.sent = true;
      try {
        await this.publisher.publish(...batch.map((pending) => pending.event));
        for (const pending of batch) pending.acked?.();
      } catch (error) {
        for (const pending of batch) pending.failed?.(error);
        this.onUnsent(
          batch.filter((pending) => !pending.failed),
          error,
        );
      }
    }
  }
}

/**
 * Auth's events, on two producers:
 * - `sendAndWait` (metered actions, billed from this event): its own producer, flushed at once,
 *   resolves when Kafka acknowledged (acks=-1), rejects after a timeout: the caller fails closed;
 * - `send` (every other verified/denied event): flushed every EVENT_BATCH_MS on the other
 *   producer, never delays an answer; a batch that could not be sent is counted in
 *   `auth_events_unsent_total` and logged.
 * Separate producers keep a large batch of the second kind from delaying the first. Ordering per
 * organization holds within each kind (one producer, one request in flight), which is what
 * metering relies on: it bills only the metered ones.
 */
@Injectable()
export class EventBatcher implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger(EventBatcher.name);
  private readonly bulk: Lane;
  private readonly urgent: Lane;
  private timer?: NodeJS.Timeout;
  private readonly unsent: Counter<'topic'>;
  private readonly refused: Counter<'topic'>;
  /** Voids offered and not yet acknowledged (re-offered until they are). */
  private readonly unackedVoids = new Set<OutgoingEvent>();

  constructor(
    publisher: EventPublisher,
    @Inject(KAFKA) kafka: Kafka,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.unsent = new Counter({
      name: 'auth_events_unsent_total',
      help: 'Verified/denied events that could not be sent to Kafka (logged, not retried further)',
      labelNames: ['topic'],
      registers: [registry],
    });
    this.refused = new Counter({
      name: 'auth_events_refused_total',
      help: 'Events not queued because EVENT_QUEUE_MAX were waiting: verified ones answered 503, denied ones dropped',
      labelNames: ['topic'],
      registers: [registry],
    });
    const onUnsent = (batch: Pending[], error: unknown) => {
      if (batch.length === 0) return;
      for (const pending of batch) this.unsent.inc({ topic: pending.event.topic });
      this.logger.error({ err: error, dropped: batch.length }, 'could not send auth events to Kafka');
    };
    this.bulk = new Lane(publisher, onUnsent);
    this.urgent = new Lane(new EventPublisher(kafka), onUnsent);
  }

  async onModuleInit(): Promise<void> {
    this.timer = setInterval(() => {
      if (this.bulk.queue.length > 0) void this.bulk.kick();
    }, this.config.EVENT_BATCH_MS);
    this.timer.unref();
    // Connected up front, so the first metered action does not pay for it; a broker that is
    // down now fails metered actions closed later rather than the start.
    void this.urgent.publisher
      .connect()
      .catch((error) => this.logger.warn({ err: error }, 'urgent producer not connected'));
  }

  /** Drain what is queued before the producers disconnect. */
  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    const giveUpAt = Date.now() + SHUTDOWN_VOIDS_MS;
    while (this.bulk.queue.length > 0 || this.bulk.busy || this.urgent.queue.length > 0 || this.urgent.busy) {
      await Promise.all([this.bulk.kick(), this.urgent.kick()]);
    }
    while (this.unackedVoids.size > 0 && Date.now() < giveUpAt) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await this.bulk.kick();
    }
    if (this.unackedVoids.size > 0) {
      const voids = [...this.unackedVoids].map((event) => (event.value as { id?: string }).id);
      this.logger.error({ voids }, 'shutting down with admission voids Kafka never acknowledged');
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.urgent.publisher.disconnect().catch(() => undefined);
  }

  unsentCounter(): Counter<'topic'> {
    return this.unsent;
  }

  /** Queues an event nobody waits for; throws DEPENDENCY_UNAVAILABLE (counted) when EVENT_QUEUE_MAX are waiting. */
  send(event: OutgoingEvent): void {
    this.admit(this.bulk, event);
    this.bulk.queue.push({ event: serialized(event) });
    if (this.bulk.queue.length >= MAX_BATCH) void this.bulk.kick();
  }

  /** An event whose loss is only counted (a denial): dropped rather than refused when the queue is full. */
  trySend(event: OutgoingEvent): void {
    try {
      this.send(event);
    } catch (error) {
      if (!(error instanceof TallyError)) throw error;
    }
  }

  private admit(lane: Lane, event: OutgoingEvent): void {
    if (lane.queue.length < this.config.EVENT_QUEUE_MAX) return;
    this.refused.inc({ topic: event.topic });
    throw Errors.dependencyUnavailable('Kafka is behind: too many events are waiting to be sent; refused.');
  }

  /**
   * Resolves once Kafka acknowledged the event (acks=-1); rejects with Unacknowledged after
   * `timeoutMs` (the event is dropped if it has not left yet) or when its produce request failed.
   */
  sendAndWait(event: OutgoingEvent, timeoutMs: number): Promise<void> {
    this.admit(this.urgent, event);
    const queued = serialized(event);
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = { event: queued };
      const timer = setTimeout(() => {
        pending.abandoned = true;
        reject(new Unacknowledged(`no acknowledgement from Kafka within ${timeoutMs} ms`, pending.sent === true));
      }, timeoutMs);
      pending.acked = () => {
        clearTimeout(timer);
        resolve();
      };
      pending.failed = (error) => {
        clearTimeout(timer);
        reject(new Unacknowledged(error instanceof Error ? error.message : String(error), true));
      };
      this.urgent.queue.push(pending);
      void this.urgent.kick();
    });
  }

  /** A compensating event (admission.voided): offered again until Kafka acknowledges it. */
  sendUntilAcked(event: OutgoingEvent): void {
    this.unackedVoids.add(event);
    const offer = () => {
      this.bulk.queue.push({
        event,
        acked: () => this.unackedVoids.delete(event),
        failed: () => setTimeout(offer, RESEND_MS).unref(),
      });
      void this.bulk.kick();
    };
    offer();
  }
}
