import type Redis from 'ioredis';

/** One organization's balances as admission reads them, in integer units, versioned by ledger position. */
export interface CachedBalance {
  sandboxMs: bigint;
  agentMc: bigint;
  /** The ledger `seq` this snapshot reflects. */
  version: bigint;
}

/**
 * Writes a snapshot only if it is newer than what Redis holds, so a late or replayed writer can
 * never move a balance backwards. Versions are ledger sequence numbers (integers, exact in Lua
 * below 2^53); balances are stored as the integer strings they arrive as, with no arithmetic.
 */
const APPLY_SNAPSHOT = `
local current = redis.call('HGET', KEYS[1], 'version')
if current and tonumber(current) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'sandbox_ms', ARGV[2], 'agent_mc', ARGV[3])
return 1
`;

type WithScripts = Redis & {
  tallyApplySnapshot(key: string, version: string, sandboxMs: string, agentMc: string): Promise<number>;
};

/**
 * The Redis side of balances: a cache of PostgreSQL, rebuildable from it. Keys carry the org in a
 * hash tag (`{ORG-...}`) so every script touches one Redis Cluster slot.
 */
export class BalanceCache {
  private readonly redis: WithScripts;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    // defineCommand falls back from EVALSHA to EVAL on NOSCRIPT (after a Redis restart); raw EVALSHA does not.
    if (!(redis as unknown as Partial<WithScripts>).tallyApplySnapshot) {
      redis.defineCommand('tallyApplySnapshot', { numberOfKeys: 1, lua: APPLY_SNAPSHOT });
    }
    this.redis = redis as unknown as WithScripts;
  }

  key(orgId: string): string {
    return `${this.prefix}{${orgId}}:balance`;
  }

  /** True when Redis accepted it, false when it already held this version or a newer one. */
  async apply(orgId: string, balance: CachedBalance): Promise<boolean> {
    const written = await this.redis.tallyApplySnapshot(
      this.key(orgId),
      balance.version.toString(),
      balance.sandboxMs.toString(),
      balance.agentMc.toString(),
    );
    return written === 1;
  }

  async get(orgId: string): Promise<CachedBalance | null> {
    const [version, sandboxMs, agentMc] = await this.redis.hmget(this.key(orgId), 'version', 'sandbox_ms', 'agent_mc');
    if (version === null || sandboxMs === null || agentMc === null) return null;
    return { version: BigInt(version), sandboxMs: BigInt(sandboxMs), agentMc: BigInt(agentMc) };
  }
}
