import type { RedisClient } from './redis-client';
import { ADMIT_LUA, RELEASE_LUA } from './admission-scripts';
import { balanceKeys } from './balance-cache';
import { defineScript, ScriptCall } from './scripts';

/** What an admission reserves or checks; decided in one Lua call (ADMIT_LUA). */
export type AdmissionKind = 'create' | 'extend' | 'agent' | 'none';

export interface AdmissionInput {
  orgId: string;
  keyId: string;
  admissionId: string;
  kind: AdmissionKind;
  /** Same admission id with another fingerprint is a conflict, not a replay. */
  fingerprint: string;
  /** Sandbox-ms to hold (create/extend), computed in TypeScript with `sandboxCost`. */
  reserveMs: bigint;
  holdTtlMs: number;
  recordTtlMs: number;
  planTier: number;
  requiredTier: number;
  /** Concurrent sandboxes allowed by the plan; -1 for no limit. */
  concurrentLimit: number;
  /** Milli-credits agent.run holds provisionally (its fixed cost) until metering debits it. */
  agentReserveMc: bigint;
  /** Requests per second (0: unlimited); the burst allowed is one second's worth. */
  orgRatePerSecond: number;
  keyRatePerSecond: number;
  purgeBatch?: number;
  /** sandbox.create: the sandbox it makes and its price, recorded so an extend finds them before metering's hold does. */
  sandbox?: ProvisionalSandbox;
}

/** A sandbox quota admitted the create of, as its extensions are priced. */
export interface ProvisionalSandbox {
  id: string;
  shape: string;
  pricePerHour: string;
}

export type AdmissionOutcome =
  /** `reservedMs`: sandbox-ms for a create or an extend; for an agent run, the milli-credits it holds. */
  | { outcome: 'ADMIT'; reservedMs: bigint; expiresAtMs: number; replay: boolean }
  | { outcome: 'MISS' }
  | { outcome: 'CONFLICT' }
  | { outcome: 'RELEASED' }
  | { outcome: 'RATE_LIMITED'; waitMs: number; scope: 'organization' | 'key' }
  | { outcome: 'PLAN_TIER_TOO_LOW' }
  | { outcome: 'CONCURRENT_SANDBOX_LIMIT'; running: number; provisional: number; limit: number }
  | { outcome: 'INSUFFICIENT_SANDBOX_HOURS'; availableMs: bigint }
  | { outcome: 'INSUFFICIENT_AGENT_CREDITS'; availableMc: bigint };

/** An admission id's record as ADMIT_LUA writes it (state `released` once released). */
export interface AdmissionRecord {
  fingerprint: string;
  state: string;
  reservedMs: bigint;
  expiresAtMs: number;
}

type Reply = string[];

/** GCRA parameters in microseconds: emission interval and the tolerance that allows a burst. */
export function gcraParameters(perSecond: number): { intervalUs: number; toleranceUs: number } {
  if (perSecond <= 0) return { intervalUs: 0, toleranceUs: 0 };
  const intervalUs = Math.max(1, Math.floor(1_000_000 / perSecond));
  return { intervalUs, toleranceUs: intervalUs * (Math.ceil(perSecond) - 1) };
}

/**
 * The Redis side of admission: one Lua call per decision, no read-then-write from TypeScript,
 * so concurrent admissions of one org (from any number of quota instances) serialize in Redis.
 */
export class AdmissionCache {
  private readonly admitScript: ScriptCall<Reply>;
  private readonly releaseScript: ScriptCall<[string, number, string]>;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {
    this.admitScript = defineScript(redis, { name: 'tallyAdmit', numberOfKeys: 11, lua: ADMIT_LUA });
    this.releaseScript = defineScript(redis, { name: 'tallyRelease', numberOfKeys: 7, lua: RELEASE_LUA });
  }

  async admit(input: AdmissionInput): Promise<AdmissionOutcome> {
    const keys = balanceKeys(this.prefix, input.orgId);
    const org = gcraParameters(input.orgRatePerSecond);
    const key = gcraParameters(input.keyRatePerSecond);
    const reply = await this.admitScript(
      [
        keys.balance,
        keys.provisional,
        keys.provisionalExpiry,
        keys.provisionalCreates,
        keys.provisionalTotal,
        keys.admission(input.admissionId),
        keys.orgRate,
        keys.keyRate(input.keyId),
        keys.provisionalAgent,
        keys.provisionalAgentTotal,
        keys.sandbox(input.sandbox?.id ?? ''),
      ],
      input.admissionId,
      input.kind,
      input.fingerprint,
      input.reserveMs.toString(),
      String(input.holdTtlMs),
      String(input.recordTtlMs),
      String(input.planTier),
      String(input.requiredTier),
      String(input.concurrentLimit),
      input.agentReserveMc.toString(),
      String(org.intervalUs),
      String(org.toleranceUs),
      String(key.intervalUs),
      String(key.toleranceUs),
      String(input.purgeBatch ?? 100),
      input.sandbox ? `${input.sandbox.shape}|${input.sandbox.pricePerHour}` : '',
    );
    return parseReply(reply);
  }

  /** Drops the provisional hold of an admission (sandbox-ms or an agent run's credits), if any is left, and tombstones the id. */
  async release(
    orgId: string,
    admissionId: string,
    recordTtlMs: number,
  ): Promise<{ releasedMs: bigint; releasedMc: bigint; known: boolean }> {
    const keys = balanceKeys(this.prefix, orgId);
    const [amount, known, credits] = await this.releaseScript(
      [
        keys.provisional,
        keys.provisionalExpiry,
        keys.provisionalCreates,
        keys.provisionalTotal,
        keys.admission(admissionId),
        keys.provisionalAgent,
        keys.provisionalAgentTotal,
      ],
      admissionId,
      String(recordTtlMs),
    );
    return { releasedMs: BigInt(amount), releasedMc: BigInt(credits), known: Number(known) === 1 };
  }

  /** A sandbox whose create quota admitted within the hold TTL (its shape and price), or null. */
  async provisionalSandbox(orgId: string, sandboxId: string): Promise<ProvisionalSandbox | null> {
    const record = await this.redis.get(balanceKeys(this.prefix, orgId).sandbox(sandboxId));
    const match = record ? /^(.*)\|([^|]+)$/.exec(record) : null;
    return match ? { id: sandboxId, shape: match[1], pricePerHour: match[2] } : null;
  }

  /** The answer recorded for an admission id (what a retry replays), or null when none is. */
  async recorded(orgId: string, admissionId: string): Promise<AdmissionRecord | null> {
    const record = await this.redis.get(balanceKeys(this.prefix, orgId).admission(admissionId));
    const match = record ? /^([^:]*):([a-z]+):(\d+):(\d+)$/i.exec(record) : null;
    if (!match) return null;
    return { fingerprint: match[1], state: match[2], reservedMs: BigInt(match[3]), expiresAtMs: Number(match[4]) };
  }

  /** Provisional holds of an org: their sum and how many are creates (for reads and tests). */
  async provisional(orgId: string): Promise<{ totalMs: bigint; holds: number; creates: number }> {
    const keys = balanceKeys(this.prefix, orgId);
    const [total, holds, creates] = await Promise.all([
      this.redis.get(keys.provisionalTotal),
      this.redis.hlen(keys.provisional),
      this.redis.scard(keys.provisionalCreates),
    ]);
    return { totalMs: BigInt(total ?? '0'), holds, creates };
  }

  /** Provisional agent-run holds of an org: their sum in milli-credits and how many there are. */
  async provisionalAgent(orgId: string): Promise<{ totalMc: bigint; holds: number }> {
    const keys = balanceKeys(this.prefix, orgId);
    const [total, holds] = await Promise.all([
      this.redis.get(keys.provisionalAgentTotal),
      this.redis.hlen(keys.provisionalAgent),
    ]);
    return { totalMc: BigInt(total ?? '0'), holds };
  }
}

function parseReply(reply: Reply): AdmissionOutcome {
  switch (reply[0]) {
    case 'ADMIT':
      return {
        outcome: 'ADMIT',
        reservedMs: BigInt(reply[1]),
        expiresAtMs: Number(reply[2]),
        replay: reply[3] === '1',
      };
    case 'RATE_LIMITED':
      return { outcome: 'RATE_LIMITED', waitMs: Number(reply[1]), scope: reply[2] as 'organization' | 'key' };
    case 'CONCURRENT_SANDBOX_LIMIT':
      return {
        outcome: 'CONCURRENT_SANDBOX_LIMIT',
        running: Number(reply[1]),
        provisional: Number(reply[2]),
        limit: Number(reply[3]),
      };
    case 'INSUFFICIENT_SANDBOX_HOURS':
      return { outcome: 'INSUFFICIENT_SANDBOX_HOURS', availableMs: BigInt(reply[1]) };
    case 'INSUFFICIENT_AGENT_CREDITS':
      return { outcome: 'INSUFFICIENT_AGENT_CREDITS', availableMc: BigInt(reply[1]) };
    case 'MISS':
    case 'CONFLICT':
    case 'RELEASED':
    case 'PLAN_TIER_TOO_LOW':
      return { outcome: reply[0] };
    default:
      throw new Error(`unexpected admission reply ${JSON.stringify(reply)}`);
  }
}
