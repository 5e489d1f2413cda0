import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { METRICS_REGISTRY } from '@tally/platform';
import { Gauge, Registry } from 'prom-client';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';
import { LedgerDatabase } from './ledger.repository';
import { LedgerService } from './ledger.service';

/**
 * Retries the Redis refreshes that grants and expiry requested in their transactions
 * (`balance_refreshes`) and could not make right after the commit (Redis down, a timeout, a
 * crash in between), until Redis has the balance (docs/TIME.md). A request younger than one
 * period is left to its writer, which refreshes right after its commit. Several instances may
 * refresh the same org: the versioned apply makes that harmless.
 */
@Injectable()
export class BalanceRefresher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private current?: Promise<unknown>;
  private readonly pending: Gauge;

  constructor(
    @Inject(METERING_CONFIG) private readonly config: MeteringConfig,
    private readonly database: LedgerDatabase,
    private readonly ledger: LedgerService,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.pending = new Gauge({
      name: 'tally_balance_refreshes_pending',
      help: 'Organizations whose Redis balance a grant or expiry could not write, found by the last refresher round (at most 500); sustained above 0: Redis is behind PostgreSQL',
      registers: [registry],
    });
  }

  onApplicationBootstrap(): void {
    const period = this.config.BALANCE_REFRESH_INTERVAL_MS;
    if (period === 0) return;
    const tick = () => {
      this.current = this.runOnce()
        .catch(() => undefined) // PostgreSQL unreachable: the next round tries again
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, period);
        });
    };
    this.timer = setTimeout(tick, period);
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  /** One round: the oldest pending requests (at most `limit`); how many were written to Redis. */
  async runOnce(limit = 500): Promise<number> {
    const pending = await this.database.pendingRefreshes(this.config.BALANCE_REFRESH_INTERVAL_MS, limit);
    const written = await this.ledger.refreshDurably(pending, 'refresher');
    this.pending.set(written ? 0 : pending.length);
    return written ? pending.length : 0;
  }
}
