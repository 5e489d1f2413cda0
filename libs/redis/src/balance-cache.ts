import type { RedisClient } from './redis-client';
import { APPLY_SNAPSHOT_LUA } from './admission-scripts';
import { defineScript, ScriptCall } from './scripts';

/**
 * One organization's balances as admission reads them, in integer units, versioned by ledger
 * position. Written only from PostgreSQL's committed truth (metering after each batch, quota on a
 * miss), so Redis can always be rebuilt from PostgreSQL.
 */
export interface CachedBalance {
  /** Remaining sandbox-ms of the org's active packages. */
  sandboxMs: bigint;
  /** Remaining milli-credits of the org's active packages. */
  agentMc: bigint;
  /** Sandbox-ms reserved by durable holds (PostgreSQL), not yet captured or released. */
  heldMs: bigint;
  /** Sandboxes running now (for the concurrency limit). */
  runningSandboxes: number;
  /** Agent overage not covered (milli-credits): admission counts it against the org's credits. 0 when absent. */
  agentDebtMc?: bigint;
  /** How far the org's agent credits may go below zero at admission (its overdraft limit). 0 when absent. */
  agentOverdraftMc?: bigint;
  /** The ledger `seq` this snapshot reflects. */
  version: bigint;
  /**
   * When the snapshot stops being true with no ledger change (a package's `notBefore` or
   * `notAfter`, a hold's expiry); null or absent: never. Past it, admission answers MISS and the
   * balance is reloaded from PostgreSQL (docs/TIME.md).
   */
  validUntil?: Date | null;
}

/** Whether a snapshot is still true at `at` (not past its `validUntil`). */
export const validAt = (balance: Pick<CachedBalance, 'validUntil'>, at: Date): boolean =>
  !balance.validUntil || balance.validUntil.getTime() > at.getTime();

/**
 * Redis layout per organization; every key carries the org in a hash tag so each Lua script
 * touches one Redis Cluster slot:
 *   <prefix>{ORG}:balance              hash    version, sandbox_ms, agent_mc, held_ms, running,
 *                                              valid_until (epoch ms, 0: never), as_of (epoch ms),
 *                                              agent_debt_mc, overdraft_mc
 *   <prefix>{ORG}:provisional          hash    admissionId -> reserved sandbox-ms (quota's holds)
 *   <prefix>{ORG}:provisional:exp      zset    admissionId scored by expiry (epoch ms)
 *   <prefix>{ORG}:provisional:creates  set     admissionIds of provisional holds of sandbox.create
 *                                              (they count against the concurrency limit)
 *   <prefix>{ORG}:provisional:total    string  sum of the provisional hash, kept in step by the
 *                                              scripts so a decision never sums the hash
 *   <prefix>{ORG}:provisional:agent    hash    admissionId -> milli-credits held for an agent.run
 *   <prefix>{ORG}:provisional:agent:total string sum of that hash (expiry shares provisional:exp)
 *   <prefix>{ORG}:sandbox:<sandboxId>  string  shape|pricePerHour of a sandbox whose create quota admitted,
 *                                              for the hold TTL (an extend before metering's durable hold)
 *   <prefix>{ORG}:admission:<id>       string  an admission's answer, for idempotent retries
 *   <prefix>{ORG}:rate                 string  the org's GCRA theoretical arrival time (µs)
 *   <prefix>{ORG}:rate:key:<keyId>     string  one API key's GCRA theoretical arrival time (µs)
 * A provisional hold lives until metering makes it durable or debits it (the verified event with the same
 * admission id), the upstream releases it, or it expires.
 */
export const balanceKeys = (prefix: string, orgId: string) => ({
  balance: `${prefix}{${orgId}}:balance`,
  provisional: `${prefix}{${orgId}}:provisional`,
  provisionalExpiry: `${prefix}{${orgId}}:provisional:exp`,
  provisionalCreates: `${prefix}{${orgId}}:provisional:creates`,
  provisionalTotal: `${prefix}{${orgId}}:provisional:total`,
  provisionalAgent: `${prefix}{${orgId}}:provisional:agent`,
  provisionalAgentTotal: `${prefix}{${orgId}}:provisional:agent:total`,
  admission: (admissionId: string) => `${prefix}{${orgId}}:admission:${admissionId}`,
  sandbox: (sandboxId: string) => `${prefix}{${orgId}}:sandbox:${sandboxId}`,
  orgRate: `${prefix}{${orgId}}:rate`,
  keyRate: (keyId: string) => `${prefix}{${orgId}}:rate:key:${keyId}`,
});

/**
 * The Redis side of balances: a cache of PostgreSQL, rebuildable from it. A snapshot is written
 * only if it is newer than what Redis holds (a higher version, or the same version computed at
 * the same instant or later, which may differ only by what time changed), so a late or replayed
 * writer can never move a balance backwards; then (always, idempotently) the provisional holds
 * that the snapshot's durable holds now cover are dropped (APPLY_SNAPSHOT_LUA). Versions are
 * ledger sequence numbers (integers, exact in Lua below 2^53); balances are stored as the integer
 * strings they arrive as.
 */
export class BalanceCache {
  private readonly applySnapshot: ScriptCall<number>;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {
    this.applySnapshot = defineScript(redis, { name: 'tallyApplySnapshot', numberOfKeys: 7, lua: APPLY_SNAPSHOT_LUA });
  }

  keys(orgId: string) {
    return balanceKeys(this.prefix, orgId);
  }

  /**
   * True when Redis accepted the snapshot, false when it already held a newer version, or this
   * version computed later. `settledAdmissions`: admission ids whose provisional holds are now
   * durable or released. `asOf`: the instant the snapshot was computed at (its loader's `at`).
   */
  async apply(
    orgId: string,
    balance: CachedBalance,
    settledAdmissions: string[] = [],
    asOf: Date = new Date(),
  ): Promise<boolean> {
    const keys = this.keys(orgId);
    const written = await this.applySnapshot(
      [
        keys.balance,
        keys.provisional,
        keys.provisionalExpiry,
        keys.provisionalCreates,
        keys.provisionalTotal,
        keys.provisionalAgent,
        keys.provisionalAgentTotal,
      ],
      balance.version.toString(),
      balance.sandboxMs.toString(),
      balance.agentMc.toString(),
      balance.heldMs.toString(),
      String(balance.runningSandboxes),
      String(balance.validUntil?.getTime() ?? 0),
      String(asOf.getTime()),
      (balance.agentDebtMc ?? 0n).toString(),
      (balance.agentOverdraftMc ?? 0n).toString(),
      ...settledAdmissions,
    );
    return written === 1;
  }

  /** Redis's clock (TIME), the one ADMIT_LUA judges `valid_until` by. */
  async now(): Promise<Date> {
    const [seconds, micros] = await this.redis.time();
    return new Date(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000));
  }

  async get(orgId: string): Promise<CachedBalance | null> {
    const [version, sandboxMs, agentMc, heldMs, running, validUntil, agentDebtMc, agentOverdraftMc] =
      await this.redis.hmget(
        this.keys(orgId).balance,
        'version',
        'sandbox_ms',
        'agent_mc',
        'held_ms',
        'running',
        'valid_until',
        'agent_debt_mc',
        'overdraft_mc',
      );
    if (version === null || sandboxMs === null || agentMc === null) return null;
    return {
      version: BigInt(version),
      sandboxMs: BigInt(sandboxMs),
      agentMc: BigInt(agentMc),
      heldMs: BigInt(heldMs ?? '0'),
      runningSandboxes: Number(running ?? '0'),
      validUntil: Number(validUntil ?? '0') > 0 ? new Date(Number(validUntil)) : null,
      agentDebtMc: BigInt(agentDebtMc ?? '0'),
      agentOverdraftMc: BigInt(agentOverdraftMc ?? '0'),
    };
  }
}
