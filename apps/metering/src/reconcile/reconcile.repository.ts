import { BalanceKind } from '@tally/contracts';
import { DataSource } from 'typeorm';

/** One org and kind: what the ledger says is left against what its packages say. */
export interface LedgerAgainstPackages {
  orgId: string;
  kind: BalanceKind;
  /** sum(grants) - sum(debits) - sum(forfeits) + package reversals, from the ledger. */
  ledger: bigint;
  /** sum(package remaining). */
  remaining: bigint;
}

/** Both sides of docs/ARCHITECTURE.md §5's invariant for one org, or every org (null). */
export async function ledgerAgainstPackages(db: DataSource, orgId: string | null): Promise<LedgerAgainstPackages[]> {
  const rows: { org_id: string; kind: BalanceKind; ledger: string; remaining: string }[] = await db.query(
    `WITH orgs AS (SELECT id FROM organizations WHERE $1::varchar IS NULL OR id = $1),
          ledger AS (
            SELECT org_id, kind, SUM(amount) AS total FROM ledger_entries
             WHERE (entry_type IN ('grant', 'debit', 'forfeit') OR (entry_type = 'reversal' AND package_id IS NOT NULL))
               AND org_id IN (SELECT id FROM orgs)
             GROUP BY org_id, kind),
          remaining AS (
            SELECT org_id, SUM(sandbox_ms_remaining) AS sandbox, SUM(agent_mc_remaining) AS agent FROM packages
             WHERE org_id IN (SELECT id FROM orgs) GROUP BY org_id)
     SELECT o.id AS org_id, k.kind,
            COALESCE(l.total, 0)::text AS ledger,
            COALESCE(CASE k.kind WHEN 'sandbox' THEN r.sandbox ELSE r.agent END, 0)::text AS remaining
       FROM orgs o CROSS JOIN (VALUES ('sandbox'), ('agent')) AS k(kind)
       LEFT JOIN ledger l ON l.org_id = o.id AND l.kind = k.kind
       LEFT JOIN remaining r ON r.org_id = o.id
      ORDER BY o.id, k.kind`,
    [orgId],
  );
  return rows.map((row) => ({
    orgId: row.org_id,
    kind: row.kind,
    ledger: BigInt(row.ledger),
    remaining: BigInt(row.remaining),
  }));
}
