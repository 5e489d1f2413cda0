import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { EventPublisher, OutgoingEvent } from '@tally/kafka';
import { METRICS_REGISTRY } from '@tally/platform';
import { Counter, Registry } from 'prom-client';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';

interface Pending {
  event: OutgoingEvent;
  acked?: () => void;
  failed?: (error: unknown) => void;
}

const MAX_BATCH = 2_000;
/** Beyond this, events that nobody waits for are dropped (and counted) rather than exhaust memory. */
const MAX_QUEUED = 200_000;

/**
 * Group commit for auth's events. One idempotent producer sends one batch at a time (it allows a
 * single request in flight), so every event waiting is sent together:
 * - `sendAndWait` (metered actions): flushed at once; resolves when Kafka acknowledged it;
 * - `send` (everything else): flushed every EVENT_BATCH_MS, never delays the answer; a batch that
 *   could not be sent is counted in `auth_events_unsent_total` and logged.
 */
@Injectable()
export class EventBatcher implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger(EventBatcher.name);
  private queue: Pending[] = [];
  private sending?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private readonly unsent: Counter<'topic'>;

  constructor(
    private readonly publisher: EventPublisher,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.unsent = new Counter({
      name: 'auth_events_unsent_total',
      help: 'Verified/denied events that could not be sent to Kafka (logged, not retried further)',
      labelNames: ['topic'],
      registers: [registry],
    });
  }

  onModuleInit(): void {
    this.timer = setInterval(() => {
      if (this.queue.length > 0) this.kick();
    }, this.config.EVENT_BATCH_MS);
    this.timer.unref();
  }

  /** Drain what is queued before the producer disconnects. */
  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    while (this.queue.length > 0 || this.sending) {
      this.kick();
      await this.sending;
    }
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  unsentCounter(): Counter<'topic'> {
    return this.unsent;
  }

  send(event: OutgoingEvent): void {
    if (this.queue.length >= MAX_QUEUED) {
      this.unsent.inc({ topic: event.topic });
      return;
    }
    this.queue.push({ event });
    if (this.queue.length >= MAX_BATCH) this.kick();
  }

  /** Resolves once Kafka acknowledged the event (acks=-1); rejects after `timeoutMs`. */
  sendAndWait(event: OutgoingEvent, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no acknowledgement from Kafka within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.queue.push({
        event,
        acked: () => {
          clearTimeout(timer);
          resolve();
        },
        failed: (error) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      });
      this.kick();
    });
  }

  private kick(): void {
    if (this.sending) return;
    this.sending = this.drain().finally(() => {
      this.sending = undefined;
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, MAX_BATCH);
      this.queue = this.queue.slice(batch.length);
      try {
        await this.publisher.publish(...batch.map((pending) => pending.event));
        for (const pending of batch) pending.acked?.();
      } catch (error) {
        let dropped = 0;
        for (const pending of batch) {
          if (pending.failed) pending.failed(error);
          else {
            dropped++;
            this.unsent.inc({ topic: pending.event.topic });
          }
        }
        if (dropped > 0) this.logger.error({ err: error, dropped }, 'could not send auth events to Kafka');
      }
    }
  }
}
