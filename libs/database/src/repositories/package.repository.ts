import { DataSource, EntityManager } from 'typeorm';

export interface PackageGrant {
  orgId: string;
  sandboxMs: bigint;
  agentMc: bigint;
  priority?: number;
  notBefore?: Date | null;
  notAfter?: Date | null;
  source: string;
  /** The granting system's id: the same grant twice creates one package. */
  externalId: string;
}

/**
 * Grants a package and records the grant in the ledger in one transaction; idempotent by
 * (org, externalId). Returns the package id.
 */
export async function grantPackage(
  dataSource: DataSource,
  grant: PackageGrant,
): Promise<{ id: string; created: boolean }> {
  return dataSource.transaction(async (manager) => {
    const id = await insertPackage(manager, grant);
    if (id === null) return { id: await packageIdOf(manager, grant), created: false };
    await insertGrantEntries(manager, id, grant);
    return { id, created: true };
  });
}

/** The new package's id; null when this grant (org, externalId) exists already. */
async function insertPackage(manager: EntityManager, grant: PackageGrant): Promise<string | null> {
  const inserted: { id: string }[] = await manager.query(
    `INSERT INTO packages (org_id, sandbox_ms_granted, sandbox_ms_remaining, agent_mc_granted, agent_mc_remaining,
                           priority, not_before, not_after, source, external_id)
     VALUES ($1, $2, $2, $3, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (org_id, external_id) DO NOTHING RETURNING id`,
    [
      grant.orgId,
      grant.sandboxMs.toString(),
      grant.agentMc.toString(),
      grant.priority ?? 0,
      grant.notBefore ?? null,
      grant.notAfter ?? null,
      grant.source,
      grant.externalId,
    ],
  );
  return inserted.length === 0 ? null : inserted[0].id;
}

async function packageIdOf(manager: EntityManager, grant: PackageGrant): Promise<string> {
  const [existing]: { id: string }[] = await manager.query(
    'SELECT id FROM packages WHERE org_id = $1 AND external_id = $2',
    [grant.orgId, grant.externalId],
  );
  return existing.id;
}

/** The grant in the ledger: one entry per kind, the grant's source and externalId as its event. */
async function insertGrantEntries(manager: EntityManager, id: string, grant: PackageGrant): Promise<void> {
  await manager.query(
    `INSERT INTO ledger_entries (org_id, package_id, kind, entry_type, amount, event_source, event_id)
     VALUES ($1, $2, 'sandbox', 'grant', $3, $4, $5), ($1, $2, 'agent', 'grant', $6, $4, $5)`,
    [grant.orgId, id, grant.sandboxMs.toString(), `grant:${grant.source}`, grant.externalId, grant.agentMc.toString()],
  );
}
