import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DATA_SOURCE } from '@tally/database';
import { METRICS_REGISTRY } from '@tally/platform';
import { BalanceCache, REDIS, type RedisClient } from '@tally/redis';
import { Gauge, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';
import { reconcile } from '../reconcile/reconcile';

/**
 * Runs reconcile (report only, never fix) periodically and exports what it found: organizations
 * whose ledger does not explain their package remainders, and whose Redis balance differs from
 * PostgreSQL's. Redis may trail by one batch while events flow, so alert on a sustained value.
 */
@Injectable()
export class DriftMonitor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DriftMonitor.name);
  private readonly drift: Gauge<'check'>;
  private timer?: NodeJS.Timeout;
  private running = false;
  private last: { invariant: number; cache: number; checkedAt: string } | null = null;

  constructor(
    @Inject(DATA_SOURCE) private readonly db: DataSource,
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(METERING_CONFIG) private readonly config: MeteringConfig,
    private readonly cache: BalanceCache,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.drift = new Gauge({
      name: 'tally_reconcile_drift_orgs',
      help: 'Organizations with drift at the last reconcile: check=invariant (ledger vs packages) or cache (Redis vs PostgreSQL)',
      labelNames: ['check'],
      registers: [registry],
    });
    this.drift.labels('invariant').set(0);
    this.drift.labels('cache').set(0);
  }

  onApplicationBootstrap(): void {
    if (this.config.RECONCILE_INTERVAL_MS === 0) return;
    this.timer = setInterval(() => void this.check(), this.config.RECONCILE_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** The last check's counts (organizations with drift), null before the first or when off. */
  lastResult(): { intervalMs: number; invariant: number; cache: number; checkedAt: string } | null {
    return this.last && { intervalMs: this.config.RECONCILE_INTERVAL_MS, ...this.last };
  }

  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const report = await reconcile(this.db, this.redis, this.cache);
      const invariant = new Set(report.invariant.map((d) => d.orgId)).size;
      this.drift.labels('invariant').set(invariant);
      this.drift.labels('cache').set(report.drift.length);
      this.last = { invariant, cache: report.drift.length, checkedAt: new Date().toISOString() };
    } catch (error) {
      this.logger.warn({ err: error }, 'drift check failed');
    } finally {
      this.running = false;
    }
  }
}
