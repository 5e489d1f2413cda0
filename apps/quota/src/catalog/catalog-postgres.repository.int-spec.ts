import { createDataSource, OrganizationEntity } from '@tally/database';
import { createTestContext, TestContext } from '@tally/testing';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { DEFAULT_CATALOG } from './catalog-config';
import { PostgresCatalogRepository } from './catalog-postgres.repository';

/** Quota reads metering's shapes and plans tables as migrated and seeded (no mock of PostgreSQL). */
describe('PostgresCatalogRepository', () => {
  let ctx: TestContext;
  let db: DataSource;
  let repository: PostgresCatalogRepository;

  beforeAll(async () => {
    ctx = await createTestContext();
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    repository = new PostgresCatalogRepository(db, DEFAULT_CATALOG);
  });

  afterAll(async () => {
    await db?.destroy();
    await ctx?.dispose();
  });

  it('reads the seeded shapes with their decimal multipliers and tiers', async () => {
    const shapes = await repository.shapes();
    expect(shapes).toEqual(expect.arrayContaining([{ name: 'gpu', pricePerHour: '12.5', requiredPlanTier: 2 }]));
    // The configured fallback catalog says the same as the tables.
    expect(shapes.sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      [...DEFAULT_CATALOG.shapes].sort((a, b) => a.name.localeCompare(b.name)),
    );
  });

  it('reads the seeded plans, allowances as decimal strings, rate limits from configuration', async () => {
    const plans = await repository.plans();
    expect(plans.find((plan) => plan.name === 'free')).toEqual({
      name: 'free',
      tier: 0,
      concurrentSandboxes: 2,
      sandboxHoursIncludedPerMonth: '10',
      agentCreditsIncludedPerMonth: '100',
      orgRequestsPerSecond: 20,
      keyRequestsPerSecond: 10,
    });
    expect(plans.map((plan) => plan.name).sort()).toEqual(DEFAULT_CATALOG.plans.map((plan) => plan.name).sort());
    for (const plan of DEFAULT_CATALOG.plans) expect(plans).toContainEqual(plan);
  });

  it("reads an organization's plan, and null for an unknown organization", async () => {
    const orgId = `ORG-${ulid()}`;
    await db.getRepository(OrganizationEntity).insert({ id: orgId, name: 'catalog test', plan: 'pro' });
    expect(await repository.orgPlan(orgId)).toBe('pro');
    expect(await repository.orgPlan(`ORG-${ulid()}`)).toBeNull();
  });
});
