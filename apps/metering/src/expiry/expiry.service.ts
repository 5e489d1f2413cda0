import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Topics, topicName } from '@tally/contracts';
import { DATA_SOURCE } from '@tally/database';
import { KAFKA_OPTIONS, KafkaModuleOptions } from '@tally/kafka';
import { DataSource } from 'typeorm';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';
import { LEDGER_SEQUENCE, LedgerRepository } from '../ledger/ledger.repository';
import { LedgerService, METERING_SOURCE } from '../ledger/ledger.service';
import { LedgerLine } from '../ledger/posting';
import { OutboxSignal } from '../outbox/outbox-signal';

export interface ExpiryResult {
  orgs: number;
  forfeits: number;
  releasedHolds: number;
}

/**
 * Forfeits the remainders of expired packages (as `forfeit` ledger entries, never a silent
 * delete) and releases expired holds. Safe with several instances: organizations are locked with
 * `SKIP LOCKED`, so an org another instance (or the consumer) is working on is left for the next
 * round; the ledger's unique key makes a forfeit impossible to post twice.
 */
@Injectable()
export class ExpiryService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ExpiryService.name);
  private timer?: NodeJS.Timeout;
  private current?: Promise<unknown>;

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(METERING_CONFIG) private readonly config: MeteringConfig,
    @Inject(KAFKA_OPTIONS) private readonly kafka: KafkaModuleOptions,
    private readonly ledger: LedgerService,
    private readonly outbox: OutboxSignal,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.EXPIRY_INTERVAL_MS === 0) return;
    const tick = () => {
      this.current = this.runOnce(new Date())
        .catch((error) => this.logger.warn({ err: error }, 'expiry round failed; retrying next round'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.config.EXPIRY_INTERVAL_MS);
        });
    };
    this.timer = setTimeout(tick, this.config.EXPIRY_INTERVAL_MS);
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  async runOnce(now: Date, limit = 500): Promise<ExpiryResult> {
    const candidates: { org_id: string }[] = await this.dataSource.query(
      `SELECT org_id FROM packages
        WHERE not_after <= $1 AND (sandbox_ms_remaining > 0 OR agent_mc_remaining > 0)
       UNION
       SELECT org_id FROM holds WHERE status = 'active' AND expires_at <= $1
       LIMIT $2`,
      [now, limit],
    );
    if (candidates.length === 0) return { orgs: 0, forfeits: 0, releasedHolds: 0 };
    const result = await this.dataSource.transaction(async (manager) => {
      const repo = new LedgerRepository(manager);
      const locked = [...(await repo.lockOrganizations(candidates.map((c) => c.org_id).sort(), true))];
      if (locked.length === 0) return { orgs: [] as string[], forfeits: 0, releasedHolds: 0 };
      const expired: { id: string; org_id: string; sandbox_ms_remaining: string; agent_mc_remaining: string }[] =
        await manager.query(
          `SELECT id, org_id, sandbox_ms_remaining, agent_mc_remaining FROM packages
            WHERE org_id = ANY($1::varchar[]) AND not_after <= $2
              AND (sandbox_ms_remaining > 0 OR agent_mc_remaining > 0)
            ORDER BY id FOR UPDATE`,
          [locked, now],
        );
      const lines: LedgerLine[] = [];
      for (const pkg of expired) {
        for (const [kind, remaining] of [
          ['sandbox', BigInt(pkg.sandbox_ms_remaining)],
          ['agent', BigInt(pkg.agent_mc_remaining)],
        ] as const) {
          if (remaining === 0n) continue;
          lines.push({
            orgId: pkg.org_id,
            packageId: pkg.id,
            kind,
            entryType: 'forfeit',
            amount: -remaining,
            eventSource: `${METERING_SOURCE}/expiry`,
            eventId: pkg.id,
            action: 'package.expired',
            keyId: null,
          });
        }
      }
      await repo.append(lines, topicName(this.kafka.topicPrefix, Topics.ledgerPosted), METERING_SOURCE);
      if (expired.length) {
        await manager.query(
          'UPDATE packages SET sandbox_ms_remaining = 0, agent_mc_remaining = 0 WHERE id = ANY($1::uuid[])',
          [expired.map((p) => p.id)],
        );
      }
      const released: unknown[] = await manager.query(
        `UPDATE holds SET status = 'expired', released_at = $2, version = nextval('${LEDGER_SEQUENCE}')
          WHERE org_id = ANY($1::varchar[]) AND status = 'active' AND expires_at <= $2 RETURNING id`,
        [locked, now],
      );
      return { orgs: locked, forfeits: lines.length, releasedHolds: released.length };
    });
    if (result.orgs.length) {
      await this.ledger.refreshCache(result.orgs);
      if (result.forfeits) this.outbox.notify();
      this.logger.log({ ...result, orgs: result.orgs.length }, 'expiry round');
    }
    return { ...result, orgs: result.orgs.length };
  }
}
