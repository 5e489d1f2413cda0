import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';

import { DATA_SOURCE } from '@tally/database';
import { DataSource } from 'typeorm';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';
import { LEDGER_SEQUENCE } from '../ledger/ledger.repository';
import { LedgerService, METERING_SOURCE } from '../ledger/ledger.service';
import { LedgerLine } from '../ledger/posting';

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
    private readonly ledger: LedgerService,
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
    const orgIds = candidates.map((c) => c.org_id).sort();
    const result = await this.ledger.postUnderLock('expiry', orgIds, [], async (repo, { known }) => {
      const manager = repo.tx;
      const locked = [...known];
      if (locked.length === 0) {
        return {
          value: { orgs: [] as string[], forfeits: 0, releasedHolds: 0 },
          change: null,
          refresh: [],
          outbox: false,
        };
      }
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
      await repo.append(lines, this.ledger.ledgerTopic, METERING_SOURCE);
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
      const value = { orgs: locked, forfeits: lines.length, releasedHolds: released.length };
      return { value, change: { orgIds: locked, events: [] }, refresh: locked, outbox: lines.length > 0 };
    });
    if (result.orgs.length) this.logger.log({ ...result, orgs: result.orgs.length }, 'expiry round');
    return { ...result, orgs: result.orgs.length };
  }
}
