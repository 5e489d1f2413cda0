import { loadOrgBalances, OrgBalance } from '@tally/database';
import { BalanceCache, CachedBalance, type RedisClient, validAt } from '@tally/redis';
import { DataSource } from 'typeorm';
import { ledgerAgainstPackages, LedgerAgainstPackages } from './reconcile.repository';

export type InvariantDrift = LedgerAgainstPackages;

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
  (a.agentDebtMc ?? 0n) === b.agentDebtMc &&
  (a.agentOverdraftMc ?? 0n) === b.agentOverdraftMc &&
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
  const sides = await ledgerAgainstPackages(db, options.orgId ?? null);
  const invariant = sides.filter((side) => side.ledger !== side.remaining);

  const orgIds = [...new Set(sides.map((side) => side.orgId))];
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
