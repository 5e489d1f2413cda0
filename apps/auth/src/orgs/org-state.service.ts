import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Errors } from '@tally/contracts';
import { DATA_SOURCE } from '@tally/database';
import { OrgChangeSubscriber, OrgState, OrgStateCache, REDIS, type RedisClient } from '@tally/redis';
import { DataSource } from 'typeorm';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';

interface LocalEntry {
  suspended: boolean;
  loadedAt: number;
}

/**
 * Whether an organization is suspended, for every verify (docs/ORGANIZATIONS.md). In process for
 * at most KEY_CACHE_LOCAL_TTL_MS (≤ 1 s), dropped at once when org:changed names the org (metering
 * announces every change there after writing it to Redis), then Redis (`{ORG}:org`), then
 * PostgreSQL (written back to Redis, the newer version winning). A suspension is therefore seen
 * by every instance within 1 s of metering's answer. With Redis and PostgreSQL both down, the
 * last state seen is used; with none seen, the verify fails closed (503).
 */
@Injectable()
export class OrgStateService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(OrgStateService.name);
  private readonly local = new Map<string, LocalEntry>();
  private readonly inflight = new Map<string, Promise<boolean>>();
  private readonly subscription: OrgChangeSubscriber;
  /** Bumped by every invalidation: a load that began before it does not store its answer. */
  private epoch = 0;

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(REDIS) redis: RedisClient,
    @Inject(DATA_SOURCE) private readonly db: DataSource,
    private readonly cache: OrgStateCache,
  ) {
    this.subscription = new OrgChangeSubscriber(redis, config.REDIS_KEY_PREFIX, {
      onChange: (orgId) => {
        this.epoch++;
        this.local.delete(orgId);
      },
      onGap: () => {
        this.epoch++;
        this.local.clear();
      },
      warn: (message, error) => this.logger.warn({ err: error }, message),
    });
  }

  onModuleInit(): Promise<void> {
    return this.subscription.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscription.stop();
  }

  async suspended(orgId: string): Promise<boolean> {
    const hit = this.local.get(orgId);
    // Served for at most the TTL even while unsubscribed: the bound holds, and a Redis outage does
    // not turn every verify into a PostgreSQL query.
    if (hit && Date.now() - hit.loadedAt < this.config.KEY_CACHE_LOCAL_TTL_MS) return hit.suspended;
    let loading = this.inflight.get(orgId);
    if (!loading) {
      loading = this.load(orgId, hit).finally(() => this.inflight.delete(orgId));
      this.inflight.set(orgId, loading);
    }
    return loading;
  }

  private async load(orgId: string, stale: LocalEntry | undefined): Promise<boolean> {
    const epoch = this.epoch;
    const loadedAt = Date.now();
    const state = (await this.cache.read(orgId).catch(() => null)) ?? (await this.fromPostgres(orgId, stale));
    if (state === undefined) {
      if (stale) return stale.suspended;
      throw Errors.dependencyUnavailable(
        'Neither Redis nor PostgreSQL answered whether the organization is suspended; the verify failed closed.',
        1,
      );
    }
    const suspended = state?.suspended ?? false;
    if (epoch === this.epoch) {
      if (this.local.size >= 100_000) this.local.delete(this.local.keys().next().value!);
      this.local.set(orgId, { suspended, loadedAt });
    }
    return suspended;
  }

  /** The org's state from PostgreSQL, written back to Redis; null: no such org; undefined: PostgreSQL failed. */
  private async fromPostgres(orgId: string, stale: LocalEntry | undefined): Promise<OrgState | null | undefined> {
    try {
      const [row]: { status: string; plan: string; version: number }[] = await this.db.query(
        'SELECT status, plan, version FROM organizations WHERE id = $1',
        [orgId],
      );
      if (!row) return null;
      const state = { version: Number(row.version), suspended: row.status === 'suspended', plan: row.plan };
      await this.cache.write(orgId, state).catch(() => undefined);
      return state;
    } catch (error) {
      this.logger.warn({ err: error, orgId, stale: stale !== undefined }, 'organization state unavailable');
      return undefined;
    }
  }
}
