import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
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

  constructor(
    @Inject(METERING_CONFIG) private readonly config: MeteringConfig,
    private readonly database: LedgerDatabase,
    private readonly ledger: LedgerService,
  ) {}

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
    return (await this.ledger.refreshDurably(pending, 'refresher')) ? pending.length : 0;
  }
}
