import { milliToCredits, msToHours } from '@tally/contracts';
import { DataSource } from 'typeorm';
import { CatalogConfig } from './catalog-config';
import { CatalogRepository, PlanSpec, ShapeSpec } from './catalog.repository';

/** organizations.plan, the one catalog fact that is in PostgreSQL whatever the source. */
export async function readOrgPlan(db: DataSource, orgId: string): Promise<string | null> {
  const rows: { plan: string }[] = await db.query('SELECT plan FROM organizations WHERE id = $1', [orgId]);
  return rows[0]?.plan ?? null;
}

/**
 * Shapes and plans from metering's tables (CATALOG_SOURCE=postgres). Rate limits are not a
 * column there: they come from the configuration, by plan name.
 */
export class PostgresCatalogRepository implements CatalogRepository {
  constructor(
    private readonly db: DataSource,
    private readonly rates: Pick<CatalogConfig, 'planRateLimits' | 'defaultRateLimits'>,
  ) {}

  async shapes(): Promise<ShapeSpec[]> {
    const rows: { name: string; price_per_hour: string; required_plan_tier: number }[] = await this.db.query(
      'SELECT name, price_per_hour::text AS price_per_hour, required_plan_tier FROM shapes',
    );
    return rows.map((row) => ({
      name: row.name,
      pricePerHour: row.price_per_hour,
      requiredPlanTier: Number(row.required_plan_tier),
    }));
  }

  async plans(): Promise<PlanSpec[]> {
    const rows: {
      name: string;
      tier: number;
      concurrent_sandboxes: number;
      sandbox_ms: string;
      agent_mc: string;
    }[] = await this.db.query(
      `SELECT name, tier, concurrent_sandboxes,
              sandbox_ms_included_per_month::text AS sandbox_ms,
              agent_mc_included_per_month::text AS agent_mc
         FROM plans`,
    );
    return rows.map((row) => ({
      name: row.name,
      tier: Number(row.tier),
      concurrentSandboxes: Number(row.concurrent_sandboxes),
      sandboxHoursIncludedPerMonth: msToHours(BigInt(row.sandbox_ms)),
      agentCreditsIncludedPerMonth: milliToCredits(BigInt(row.agent_mc)),
      ...(this.rates.planRateLimits[row.name] ?? this.rates.defaultRateLimits),
    }));
  }

  orgPlan(orgId: string): Promise<string | null> {
    return readOrgPlan(this.db, orgId);
  }
}

/** Shapes and plans from configuration (CATALOG_SOURCE=config); the org's plan from PostgreSQL. */
export class ConfigCatalogRepository implements CatalogRepository {
  constructor(
    private readonly db: DataSource,
    private readonly config: CatalogConfig,
  ) {}

  async shapes(): Promise<ShapeSpec[]> {
    return this.config.shapes;
  }

  async plans(): Promise<PlanSpec[]> {
    return this.config.plans;
  }

  orgPlan(orgId: string): Promise<string | null> {
    return readOrgPlan(this.db, orgId);
  }
}
