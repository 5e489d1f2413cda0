import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { balanceAlertEvent, deadLetterTopic, describeIssues } from '@tally/contracts';
import { DATA_SOURCE } from '@tally/database';
import { EventPublisher } from '@tally/kafka';
import { METRICS_REGISTRY } from '@tally/platform';
import { Counter, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';
import { AttemptOutcome, ClaimedDelivery, WebhookRepository } from './webhook.repository';
import { retryDelayMs, SIGNATURE_HEADER, signPayload } from './webhook-signature';
import { privateTargetsAllowed, targetRefusal } from './webhook-target';

const MAX_IN_FLIGHT = 64;

/**
 * Delivers alerts to webhooks. `accept` (called by the Kafka consumer) only queues one delivery
 * per endpoint durably and returns; a worker loop sends due deliveries, each on its own (never
 * awaiting the others, each bounded by a timeout), so a slow or failing endpoint never delays
 * another's alerts. Failures retry with exponential backoff and jitter; an endpoint that fails
 * too many times in a row is marked dead and its queue abandoned.
 */
@Injectable()
export class NotifierService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(NotifierService.name);
  private readonly repo: WebhookRepository;
  private readonly outcomes: Counter<'outcome'>;
  private readonly inFlight = new Map<string, Promise<void>>();
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;

  constructor(
    @Inject(DATA_SOURCE) db: DataSource,
    @Inject(METERING_CONFIG) private readonly config: MeteringConfig,
    private readonly publisher: EventPublisher,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.repo = new WebhookRepository(db);
    this.outcomes = new Counter({
      name: 'tally_webhook_attempts_total',
      help: 'Webhook delivery attempts by outcome (delivered, retry, failed, endpoint_dead)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    // Every outcome exported from the start, so increase() sees the first one.
    for (const outcome of ['delivered', 'retry', 'failed', 'endpoint_dead']) this.outcomes.labels(outcome).inc(0);
  }

  get repository(): WebhookRepository {
    return this.repo;
  }

  /** One alert from `metering.alerts.v1`: validated at the boundary, queued durably. */
  async accept(raw: unknown, topic: string): Promise<void> {
    const parsed = balanceAlertEvent.safeParse(raw);
    if (!parsed.success) {
      // Poison never blocks the partition: dead-letter it with the reason, then move on.
      const reason = describeIssues(parsed.error);
      this.logger.warn({ topic, reason }, 'invalid alert dead-lettered');
      await this.publisher.publish({
        topic: deadLetterTopic(topic),
        key:
          typeof (raw as { subject?: unknown })?.subject === 'string'
            ? (raw as { subject: string }).subject
            : 'unknown',
        value: { reason, topic, original: raw },
      });
      return;
    }
    const alert = parsed.data;
    const queued = await this.repo.enqueue(alert.data.orgId, alert.id, alert);
    if (queued > 0) this.wake?.();
  }

  onApplicationBootstrap(): void {
    if (this.config.NOTIFIER !== 'true') return;
    this.running = true;
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private async run(): Promise<void> {
    while (this.running) {
      let claimed: ClaimedDelivery[] = [];
      try {
        claimed = await this.repo.claim(MAX_IN_FLIGHT - this.inFlight.size, this.config.NOTIFIER_TIMEOUT_MS + 5_000, [
          ...this.inFlight.keys(),
        ]);
      } catch (error) {
        this.logger.warn({ err: error }, 'claiming deliveries failed');
      }
      for (const delivery of claimed) {
        const sending = this.send(delivery).finally(() => {
          this.inFlight.delete(delivery.id);
          this.wake?.(); // a retry may be due sooner than the poll, and a slot is free
        });
        this.inFlight.set(delivery.id, sending);
      }
      if (claimed.length === 0 || this.inFlight.size >= MAX_IN_FLIGHT) await this.sleep(this.config.NOTIFIER_POLL_MS);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** One HTTP attempt, then its outcome recorded. Never throws. */
  private async send(delivery: ClaimedDelivery): Promise<void> {
    const started = Date.now();
    const outcome = await this.post(delivery);
    const retryInMs = this.retryDelay(outcome.ok, delivery.attempts + 1);
    try {
      const { endpointDied } = await this.repo.record(
        delivery,
        { ...outcome, durationMs: Date.now() - started },
        { retryInMs, deadAfter: this.config.NOTIFIER_DEAD_AFTER },
      );
      this.outcomes.labels(outcome.ok ? 'delivered' : retryInMs === null ? 'failed' : 'retry').inc();
      if (endpointDied) {
        this.outcomes.labels('endpoint_dead').inc();
        this.logger.warn({ endpointId: delivery.endpointId }, 'webhook endpoint kept failing: marked dead');
      }
    } catch (error) {
      // The lease expires and the delivery is tried again: at least once, receivers dedupe by event id.
      this.logger.warn({ err: error, deliveryId: delivery.id }, 'recording a delivery attempt failed');
    }
  }

  /** POSTs the signed alert; any 2xx is delivered, anything else (or no answer) a failure. */
  private async post(delivery: ClaimedDelivery): Promise<Omit<AttemptOutcome, 'durationMs'>> {
    const body = JSON.stringify(delivery.payload);
    try {
      const refused = privateTargetsAllowed(this.config) ? null : await targetRefusal(delivery.url);
      if (refused) return { ok: false, httpStatus: null, error: `target refused: ${refused}` };
      const response = await fetch(delivery.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(this.config.NOTIFIER_TIMEOUT_MS),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'tally-notifier',
          [SIGNATURE_HEADER]: signPayload(delivery.secret, body, Math.floor(Date.now() / 1000)),
          'x-tally-event-id': delivery.alertId,
          'x-tally-delivery': delivery.id,
        },
        body,
      });
      await response.body?.cancel().catch(() => undefined);
      const ok = response.status >= 200 && response.status < 300;
      return { ok, httpStatus: response.status, error: ok ? null : `HTTP ${response.status}` };
    } catch (error) {
      return { ok: false, httpStatus: null, error: ((error as Error).message ?? String(error)).slice(0, 500) };
    }
  }

  /** When to try again after this attempt; null when it succeeded or was the last allowed. */
  private retryDelay(ok: boolean, attempt: number): number | null {
    if (ok || attempt >= this.config.NOTIFIER_MAX_ATTEMPTS) return null;
    return retryDelayMs(attempt, this.config.NOTIFIER_BACKOFF_MS, this.config.NOTIFIER_MAX_BACKOFF_MS, Math.random());
  }
}
