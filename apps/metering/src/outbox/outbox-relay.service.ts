import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DATA_SOURCE } from '@tally/database';
import { EventPublisher } from '@tally/kafka';
import { DataSource } from 'typeorm';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';
import { OutboxSignal } from './outbox-signal';
import { OutboxRepository } from './outbox.repository';

const BATCH = 2_000;

/**
 * Relays the outbox to Kafka: takes the oldest rows with `FOR UPDATE SKIP LOCKED` (so several
 * instances share the work without publishing a row twice at once), publishes them with acks
 * from all replicas, and deletes them in the same transaction. A crash between the publish and
 * the commit publishes those rows again: at least once, and consumers dedupe by CloudEvent id.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private running = false;
  private loop?: Promise<void>;

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(METERING_CONFIG) private readonly config: MeteringConfig,
    private readonly publisher: EventPublisher,
    private readonly signal: OutboxSignal,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.OUTBOX_RELAY !== 'true') return;
    this.running = true;
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.signal.notify();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const relayed = await this.relayOnce();
        failures = 0;
        if (relayed < BATCH) await this.signal.wait(this.config.OUTBOX_POLL_MS);
      } catch (error) {
        failures += 1;
        const delay = Math.min(5_000, 100 * 2 ** Math.min(failures, 6));
        this.logger.warn({ err: error, retryInMs: delay }, 'outbox relay failed; retrying');
        await this.signal.wait(delay);
      }
    }
  }

  /** Publishes and deletes one batch of outbox rows; returns how many. */
  async relayOnce(): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      const outbox = new OutboxRepository(manager);
      const rows = await outbox.claim(BATCH);
      if (rows.length === 0) return 0;
      await this.publisher.publish(
        ...rows.map((row) => ({ topic: row.topic, key: row.messageKey, value: row.payload })),
      );
      await outbox.remove(rows.map((row) => row.id));
      return rows.length;
    });
  }
}
