import { DataSource, EntityManager } from 'typeorm';

export interface OrgBalance {
  sandboxMs: bigint;
  agentMc: bigint;
  /** Sandbox-ms reserved by durable holds (none until holds exist: see the metering issue). */
  heldMs: bigint;
  runningSandboxes: number;
  /** Ledger position the balance reflects: the org's highest ledger `seq` (0 when none). */
  version: bigint;
}

type Queryable = Pick<EntityManager, 'query'> | Pick<DataSource, 'query'>;

/**
 * The PostgreSQL truth of an organization's available balance: the remainders of its active
 * packages at `at`. Metering writes Redis from it after each batch, quota loads it on a cache
 * miss: one loader, so both agree by construction.
 */
export async function loadOrgBalances(db: Queryable, orgIds: string[], at: Date): Promise<Map<string, OrgBalance>> {
  const rows: { org_id: string; sandbox_ms: string; agent_mc: string; version: string }[] = await db.query(
    `SELECT o.org_id,
            COALESCE((SELECT SUM(p.sandbox_ms_remaining) FROM packages p
                      WHERE p.org_id = o.org_id AND (p.not_before IS NULL OR p.not_before <= $2)
                        AND (p.not_after IS NULL OR p.not_after > $2)), 0)::text AS sandbox_ms,
            COALESCE((SELECT SUM(p.agent_mc_remaining) FROM packages p
                      WHERE p.org_id = o.org_id AND (p.not_before IS NULL OR p.not_before <= $2)
                        AND (p.not_after IS NULL OR p.not_after > $2)), 0)::text AS agent_mc,
            COALESCE((SELECT MAX(l.seq) FROM ledger_entries l WHERE l.org_id = o.org_id), 0)::text AS version
       FROM unnest($1::varchar[]) AS o(org_id)`,
    [orgIds, at],
  );
  return new Map(
    rows.map((row) => [
      row.org_id,
      {
        sandboxMs: BigInt(row.sandbox_ms),
        agentMc: BigInt(row.agent_mc),
        heldMs: 0n,
        runningSandboxes: 0,
        version: BigInt(row.version),
      },
    ]),
  );
}

export async function loadOrgBalance(db: Queryable, orgId: string, at: Date): Promise<OrgBalance> {
  return (await loadOrgBalances(db, [orgId], at)).get(orgId)!;
}
