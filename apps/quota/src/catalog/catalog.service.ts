import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { OrgChangeSubscriber, REDIS, type RedisClient } from '@tally/redis';
import { QUOTA_CONFIG, QuotaConfig } from '../config/quota.config';
import { CATALOG_REPOSITORY, CatalogRepository, PlanSpec, ShapeSpec } from './catalog.repository';

interface Cached<T> {
  value: T;
  loadedAt: number;
}

/**
 * The catalog in memory: admission runs at gateway speed and cannot afford a PostgreSQL query per
 * decision. Shapes, plans and each org's plan are refreshed after CATALOG_REFRESH_SECONDS; a
 * refresh that fails keeps serving the last good copy. Concurrent misses share one query. An
 * org's plan is dropped as soon as metering announces a change of the org (org:changed), so a new
 * plan's tier and concurrency limit apply to the next admission (docs/ORGANIZATIONS.md).
 */
@Injectable()
export class CatalogService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(CatalogService.name);
  private tables?: Cached<{ shapes: Map<string, ShapeSpec>; plans: Map<string, PlanSpec> }>;
  private tablesLoading?: Promise<void>;
  private readonly orgPlans = new Map<string, Cached<string | null>>();
  private readonly orgPlansLoading = new Map<string, Promise<string | null>>();
  private readonly refreshMs: number;
  private readonly changes?: OrgChangeSubscriber;
  /** Bumped by every announced change: a plan loaded before it is not kept. */
  private epoch = 0;

  constructor(
    @Inject(CATALOG_REPOSITORY) private readonly repository: CatalogRepository,
    @Inject(QUOTA_CONFIG) config: QuotaConfig,
    @Inject(REDIS) redis?: RedisClient,
  ) {
    this.refreshMs = config.CATALOG_REFRESH_SECONDS * 1000;
    if (redis)
      this.changes = new OrgChangeSubscriber(redis, config.REDIS_KEY_PREFIX, {
        onChange: (orgId) => {
          this.epoch++;
          this.orgPlans.delete(orgId);
          this.orgPlansLoading.delete(orgId);
        },
        onGap: () => {
          this.epoch++;
          this.orgPlans.clear();
        },
        warn: (message, error) => this.logger.warn({ err: error }, message),
      });
  }

  /** Not awaited: quota starts (and admits, with CATALOG_REFRESH_SECONDS as the bound) while Redis is away. */
  onModuleInit(): void {
    this.changes?.start().catch((error: unknown) => this.logger.warn({ err: error }, 'org:changed not subscribed'));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.changes?.stop();
  }

  async shape(name: string): Promise<ShapeSpec | undefined> {
    return (await this.loadTables()).shapes.get(name);
  }

  async plan(name: string): Promise<PlanSpec | undefined> {
    return (await this.loadTables()).plans.get(name);
  }

  /** The org's plan name; null when PostgreSQL has no such organization. */
  async orgPlan(orgId: string): Promise<string | null> {
    const cached = this.orgPlans.get(orgId);
    if (cached && Date.now() - cached.loadedAt < this.refreshMs) return cached.value;
    const epoch = this.epoch;
    let loading = this.orgPlansLoading.get(orgId);
    if (!loading) {
      loading = this.repository.orgPlan(orgId).finally(() => this.orgPlansLoading.delete(orgId));
      this.orgPlansLoading.set(orgId, loading);
    }
    try {
      const value = await loading;
      // An unknown org is not remembered: it may be created the next moment. Bounded: a
      // long-lived instance sees many orgs; dropping the oldest costs one query.
      if (value !== null && epoch === this.epoch) {
        if (this.orgPlans.size >= 100_000) this.orgPlans.delete(this.orgPlans.keys().next().value!);
        this.orgPlans.set(orgId, { value, loadedAt: Date.now() });
      }
      return value;
    } catch (error) {
      if (cached) return cached.value;
      throw error;
    }
  }

  private async loadTables() {
    const current = this.tables;
    if (current && Date.now() - current.loadedAt < this.refreshMs) return current.value;
    this.tablesLoading ??= (async () => {
      try {
        const [shapes, plans] = await Promise.all([this.repository.shapes(), this.repository.plans()]);
        this.tables = {
          value: {
            shapes: new Map(shapes.map((shape) => [shape.name, shape])),
            plans: new Map(plans.map((plan) => [plan.name, plan])),
          },
          loadedAt: Date.now(),
        };
      } catch (error) {
        if (!this.tables) throw error;
        this.logger.warn({ err: error }, 'catalog refresh failed; serving the last loaded catalog');
      } finally {
        this.tablesLoading = undefined;
      }
    })();
    if (current) {
      // Stale but present: refresh in the background, answer now.
      this.tablesLoading.catch(() => undefined);
      return current.value;
    }
    await this.tablesLoading;
    return this.tables!.value;
  }
}
