import { DataSource, EntityManager } from 'typeorm';
import { withArrayLiterals } from '../array-literal';

export interface OrgBalance {
  sandboxMs: bigint;
  agentMc: bigint;
  /** Sandbox-ms reserved by durable holds: active holds' reserved minus captured. */
  heldMs: bigint;
  /** Sandboxes with an active hold (created, not yet stopped, deleted or expired). */
  runningSandboxes: number;
  /** Agent overage not reversed (milli-credits, >= 0): admission counts it against the org's credits. */
  agentDebtMc: bigint;
  /** The org's agent overdraft limit (milli-credits, default 0). */
  agentOverdraftMc: bigint;
  /**
   * Ledger position the balance reflects: the org's highest ledger `seq`, or the highest
   * `holds.version` or the org's `overdraft_version` (drawn from the same sequence) when a hold or
   * the overdraft changed after it; 0 when none.
   */
  version: bigint;
  /**
   * When this balance stops being true with no ledger change: the next `notBefore` or `notAfter`
   * of a package with something left, or the next expiry of an active hold, after `at`; null when
   * nothing changes with time. Admission treats a snapshot past it as a miss (docs/TIME.md).
   */
  validUntil: Date | null;
}

type Queryable = Pick<EntityManager, 'query'> | Pick<DataSource, 'query'>;

/**
 * The PostgreSQL truth of an organization's available balance: the remainders of its active
 * packages at `at`, its outstanding durable holds and running sandboxes (a hold past its
 * `expires_at` no longer counts, even before the expiry job releases it), its uncovered agent
 * overage and its overdraft limit, and until when all that stays true. Metering writes Redis
 * from it after each batch, quota loads it on a cache miss: one loader, so both agree by
 * construction.
 */
export async function loadOrgBalances(db: Queryable, orgIds: string[], at: Date): Promise<Map<string, OrgBalance>> {
  const rows: OrgBalanceRow[] = await db.query(ORG_BALANCES_SQL, withArrayLiterals([orgIds, at]));
  return new Map(rows.map((row) => [row.org_id, toOrgBalance(row)]));
}

export async function loadOrgBalance(db: Queryable, orgId: string, at: Date): Promise<OrgBalance> {
  return (await loadOrgBalances(db, [orgId], at)).get(orgId)!;
}

interface OrgBalanceRow {
  org_id: string;
  sandbox_ms: string;
  agent_mc: string;
  held_ms: string;
  running: number;
  agent_debt_mc: string;
  overdraft_mc: string;
  version: string;
  valid_until: string | null;
}

// Every figure as text (bigint-safe); one row per requested org, zeros for an org with nothing.
const ORG_BALANCES_SQL = `SELECT o.org_id,
            COALESCE(p.sandbox_ms, 0)::text AS sandbox_ms,
            COALESCE(p.agent_mc, 0)::text AS agent_mc,
            COALESCE(h.held_ms, 0)::text AS held_ms,
            COALESCE(h.running, 0)::int AS running,
            GREATEST(COALESCE(d.debt, 0), 0)::text AS agent_debt_mc,
            COALESCE(g.agent_overdraft_mc, 0)::text AS overdraft_mc,
            GREATEST(COALESCE((SELECT MAX(l.seq) FROM ledger_entries l WHERE l.org_id = o.org_id), 0),
                     COALESCE(h.version, 0), COALESCE(g.overdraft_version, 0))::text AS version,
            ceil(extract(epoch FROM LEAST(p.next_change, h.next_expiry)) * 1000)::bigint::text AS valid_until
       FROM unnest($1::varchar[]) AS o(org_id)
       LEFT JOIN organizations g ON g.id = o.org_id
       LEFT JOIN LATERAL (
         -- Overage (negative) and its reversals (positive) carry no package (ix_ledger_entries_org_agent_overage).
         SELECT -SUM(amount) AS debt FROM ledger_entries
          WHERE org_id = o.org_id AND kind = 'agent' AND package_id IS NULL
       ) d ON true
       LEFT JOIN LATERAL (
         SELECT SUM(sandbox_ms_remaining) FILTER (WHERE not_before IS NULL OR not_before <= $2) AS sandbox_ms,
                SUM(agent_mc_remaining) FILTER (WHERE not_before IS NULL OR not_before <= $2) AS agent_mc,
                MIN(LEAST(CASE WHEN not_before > $2 THEN not_before END, not_after))
                  FILTER (WHERE sandbox_ms_remaining > 0 OR agent_mc_remaining > 0) AS next_change
           FROM packages
          WHERE org_id = o.org_id AND (not_after IS NULL OR not_after > $2)
       ) p ON true
       LEFT JOIN LATERAL (
         SELECT SUM(GREATEST(reserved_ms - captured_ms, 0)) FILTER (WHERE status = 'active' AND expires_at > $2) AS held_ms,
                COUNT(*) FILTER (WHERE status = 'active' AND expires_at > $2) AS running,
                MIN(expires_at) FILTER (WHERE status = 'active' AND expires_at > $2) AS next_expiry,
                MAX(version) AS version
           FROM holds WHERE org_id = o.org_id
       ) h ON true`;

function toOrgBalance(row: OrgBalanceRow): OrgBalance {
  return {
    sandboxMs: BigInt(row.sandbox_ms),
    agentMc: BigInt(row.agent_mc),
    heldMs: BigInt(row.held_ms),
    runningSandboxes: Number(row.running),
    agentDebtMc: BigInt(row.agent_debt_mc),
    agentOverdraftMc: BigInt(row.overdraft_mc),
    version: BigInt(row.version),
    validUntil: row.valid_until === null ? null : new Date(Number(row.valid_until)),
  };
}
