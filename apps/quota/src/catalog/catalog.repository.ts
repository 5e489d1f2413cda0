/**
 * What admission needs to know about shapes and plans. The tables belong to metering (issue 4);
 * quota reads them through this interface so the source can change without touching decisions.
 */
export interface ShapeSpec {
  name: string;
  /** Decimal string multiplier: one wall-clock hour costs this many sandbox hours. */
  pricePerHour: string;
  requiredPlanTier: number;
}

export interface PlanSpec {
  name: string;
  tier: number;
  /** Running plus starting sandboxes allowed at once; -1 for no limit. */
  concurrentSandboxes: number;
  sandboxHoursIncludedPerMonth: string;
  agentCreditsIncludedPerMonth: string;
  /** Admission requests per second (0: unlimited), per organization and per API key. */
  orgRequestsPerSecond: number;
  keyRequestsPerSecond: number;
}

export interface CatalogRepository {
  shapes(): Promise<ShapeSpec[]>;
  plans(): Promise<PlanSpec[]>;
  /** The plan name of an organization (organizations.plan), null when the org does not exist. */
  orgPlan(orgId: string): Promise<string | null>;
}

export const CATALOG_REPOSITORY = Symbol('CATALOG_REPOSITORY');
