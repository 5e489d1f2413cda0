import { DataSource } from 'typeorm';

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
    if (inserted.length === 0) {
      const [existing]: { id: string }[] = await manager.query(
        'SELECT id FROM packages WHERE org_id = $1 AND external_id = $2',
        [grant.orgId, grant.externalId],
      );
      return { id: existing.id, created: false };
    }
    const id = inserted[0].id;
    await manager.query(
      `INSERT INTO ledger_entries (org_id, package_id, kind, entry_type, amount, event_source, event_id)
       VALUES ($1, $2, 'sandbox', 'grant', $3, $4, $5), ($1, $2, 'agent', 'grant', $6, $4, $5)`,
      [
        grant.orgId,
        id,
        grant.sandboxMs.toString(),
        `grant:${grant.source}`,
        grant.externalId,
        grant.agentMc.toString(),
      ],
    );
    return { id, created: true };
  });
}
