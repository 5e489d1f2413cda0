import { BalanceKind } from '@tally/contracts';
import { loadOrgBalances, OrgBalance } from '@tally/database';
import { BalanceCache, CachedBalance, type RedisClient, validAt } from '@tally/redis';
import { DataSource } from 'typeorm';

export interface InvariantDrift {
  orgId: string;
  kind: BalanceKind;
  /** sum(grants) - sum(debits) - sum(forfeits), from the ledger. */
  ledger: bigint;
  /** sum(package remaining). */
  remaining: bigint;
}

export interface CacheDrift {
  orgId: string;
  postgres: OrgBalance;
  /**
   * null: Redis has no balance for the org, or one past its validity (a miss either way: admission
   * loads it from PostgreSQL on demand).
   */
  redis: CachedBalance | null;
  fixed: boolean;
}

export interface ReconcileReport {
  orgs: number;
  invariant: InvariantDrift[];
  /** Redis balances that differ from PostgreSQL's. */
  drift: CacheDrift[];
  /** Orgs Redis has nothing valid for (nothing cached, or a snapshot past its `validUntil`). */
  missing: CacheDrift[];
}

const same = (a: CachedBalance, b: OrgBalance) =>
  a.sandboxMs === b.sandboxMs &&
  a.agentMc === b.agentMc &&
  a.heldMs === b.heldMs &&
  a.runningSandboxes === b.runningSandboxes &&
  a.version === b.version;

/**
 * Checks, per organization, docs/ARCHITECTURE.md §5's invariant (the ledger explains every package remainder)
 * and that Redis holds what PostgreSQL says. With `fix`, every differing or missing Redis balance
 * is rewritten from PostgreSQL (the ledger invariant is only reported: PostgreSQL is the truth).
 * Meant for a drained stream: while events flow, Redis may briefly trail by one batch.
 */
export async function reconcile(
  db: DataSource,
  redis: RedisClient,
  cache: BalanceCache,
  options: { orgId?: string; fix?: boolean; now?: Date } = {},
): Promise<ReconcileReport> {
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
    [options.orgId ?? null],
  );
  const invariant = rows
    .filter((row) => row.ledger !== row.remaining)
    .map((row) => ({
      orgId: row.org_id,
      kind: row.kind,
      ledger: BigInt(row.ledger),
      remaining: BigInt(row.remaining),
    }));

  const orgIds = [...new Set(rows.map((row) => row.org_id))];
  const drift: CacheDrift[] = [];
  const missing: CacheDrift[] = [];
  for (let i = 0; i < orgIds.length; i += 500) {
    const chunk = orgIds.slice(i, i + 500);
    const at = options.now ?? new Date();
    const truth = await loadOrgBalances(db, chunk, at);
    for (const orgId of chunk) {
      const postgres = truth.get(orgId)!;
      const stored = await cache.get(orgId);
      const cached = stored && validAt(stored, at) ? stored : null;
      if (cached && same(cached, postgres)) continue;
      const entry: CacheDrift = { orgId, postgres, redis: cached, fixed: false };
      if (options.fix) {
        // Apply refuses a snapshot that is not newer; a drifted entry at the same version is removed first.
        if (stored) await redis.del(cache.keys(orgId).balance);
        await cache.apply(orgId, postgres, [], at);
        entry.fixed = true;
      }
      (cached ? drift : missing).push(entry);
    }
  }
  return { orgs: orgIds.length, invariant, drift, missing };
}
