import { Inject, Injectable, Logger } from '@nestjs/common';
import { QUOTA_CONFIG, QuotaConfig } from '../config/quota.config';
import { CATALOG_REPOSITORY, CatalogRepository, PlanSpec, ShapeSpec } from './catalog.repository';

interface Cached<T> {
  value: T;
  loadedAt: number;
}

/**
 * The catalog in memory: admission runs at gateway speed and cannot afford a PostgreSQL query per
 * decision. Shapes, plans and each org's plan are refreshed after CATALOG_REFRESH_SECONDS; a
 * refresh that fails keeps serving the last good copy. Concurrent misses share one query.
 */
@Injectable()
export class CatalogService {
  private readonly logger = new Logger(CatalogService.name);
  private tables?: Cached<{ shapes: Map<string, ShapeSpec>; plans: Map<string, PlanSpec> }>;
  private tablesLoading?: Promise<void>;
  private readonly orgPlans = new Map<string, Cached<string | null>>();
  private readonly orgPlansLoading = new Map<string, Promise<string | null>>();
  private readonly refreshMs: number;

  constructor(
    @Inject(CATALOG_REPOSITORY) private readonly repository: CatalogRepository,
    @Inject(QUOTA_CONFIG) config: QuotaConfig,
  ) {
    this.refreshMs = config.CATALOG_REFRESH_SECONDS * 1000;
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
    let loading = this.orgPlansLoading.get(orgId);
    if (!loading) {
      loading = this.repository.orgPlan(orgId).finally(() => this.orgPlansLoading.delete(orgId));
      this.orgPlansLoading.set(orgId, loading);
    }
    try {
      const value = await loading;
      // An unknown org is not remembered: it may be created the next moment. Bounded: a
      // long-lived instance sees many orgs; dropping the oldest costs one query.
      if (value !== null) {
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
