import { z } from 'zod';
import { PlanSpec, ShapeSpec } from './catalog.repository';

const decimal = z.string().regex(/^\d{1,15}(\.\d{1,9})?$/, 'must be a decimal string');

const rateLimits = z.object({
  orgRequestsPerSecond: z.number().int().min(0),
  keyRequestsPerSecond: z.number().int().min(0),
});

export const catalogConfigSchema = z.object({
  shapes: z
    .array(z.object({ name: z.string().min(1), pricePerHour: decimal, requiredPlanTier: z.number().int().min(0) }))
    .min(1),
  plans: z
    .array(
      z
        .object({
          name: z.string().min(1),
          tier: z.number().int().min(0),
          concurrentSandboxes: z.number().int().min(-1),
          sandboxHoursIncludedPerMonth: decimal,
          agentCreditsIncludedPerMonth: decimal,
        })
        .extend(rateLimits.shape),
    )
    .min(1),
  /**
   * Rate limits of plans whose source (the plans table) does not carry them: by plan name, else
   * the default.
   */
  planRateLimits: z.record(z.string(), rateLimits).default({}),
  defaultRateLimits: rateLimits.default({ orgRequestsPerSecond: 100, keyRequestsPerSecond: 50 }),
});

export type CatalogConfig = z.infer<typeof catalogConfigSchema>;

/**
 * The read-only catalog quota uses while the shapes and plans tables are not in PostgreSQL
 * (CATALOG_SOURCE=config). Same fields as the tables; CATALOG_JSON replaces it whole.
 */
export const DEFAULT_CATALOG: CatalogConfig = {
  // The same rows metering's migration seeds into the shapes and plans tables.
  shapes: [
    { name: 'micro', pricePerHour: '0.5', requiredPlanTier: 0 },
    { name: 'small', pricePerHour: '1', requiredPlanTier: 0 },
    { name: 'medium', pricePerHour: '2', requiredPlanTier: 0 },
    { name: 'large', pricePerHour: '4', requiredPlanTier: 1 },
    { name: 'xlarge', pricePerHour: '8', requiredPlanTier: 2 },
    { name: 'gpu', pricePerHour: '12.5', requiredPlanTier: 2 },
  ],
  plans: [
    {
      name: 'free',
      tier: 0,
      concurrentSandboxes: 2,
      sandboxHoursIncludedPerMonth: '10',
      agentCreditsIncludedPerMonth: '100',
      orgRequestsPerSecond: 20,
      keyRequestsPerSecond: 10,
    },
    {
      name: 'pro',
      tier: 1,
      concurrentSandboxes: 10,
      sandboxHoursIncludedPerMonth: '100',
      agentCreditsIncludedPerMonth: '1000',
      orgRequestsPerSecond: 200,
      keyRequestsPerSecond: 100,
    },
    {
      name: 'team',
      tier: 2,
      concurrentSandboxes: 50,
      sandboxHoursIncludedPerMonth: '1000',
      agentCreditsIncludedPerMonth: '10000',
      orgRequestsPerSecond: 1000,
      keyRequestsPerSecond: 500,
    },
    {
      name: 'enterprise',
      tier: 3,
      concurrentSandboxes: 500,
      sandboxHoursIncludedPerMonth: '10000',
      agentCreditsIncludedPerMonth: '100000',
      orgRequestsPerSecond: 2000,
      keyRequestsPerSecond: 1000,
    },
  ],
  planRateLimits: {
    free: { orgRequestsPerSecond: 20, keyRequestsPerSecond: 10 },
    pro: { orgRequestsPerSecond: 200, keyRequestsPerSecond: 100 },
    team: { orgRequestsPerSecond: 1000, keyRequestsPerSecond: 500 },
    enterprise: { orgRequestsPerSecond: 2000, keyRequestsPerSecond: 1000 },
  },
  defaultRateLimits: { orgRequestsPerSecond: 100, keyRequestsPerSecond: 50 },
};

/** Parses CATALOG_JSON (inline JSON); the message names what is wrong. */
export function parseCatalogJson(raw: string): CatalogConfig {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new Error(`CATALOG_JSON is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = catalogConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`CATALOG_JSON ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

export const shapesOf = (config: CatalogConfig): ShapeSpec[] => config.shapes;
export const plansOf = (config: CatalogConfig): PlanSpec[] => config.plans;
