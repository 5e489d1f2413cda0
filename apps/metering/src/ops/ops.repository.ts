import { BalanceKind } from '@tally/contracts';
import { DataSource } from 'typeorm';

export type Granularity = 'hour' | 'day';
export type UsageGroup = 'key' | 'action' | 'shape' | 'kind' | 'sandbox';
export const USAGE_GROUPS: readonly UsageGroup[] = ['key', 'action', 'shape', 'kind', 'sandbox'];

/** Roll-up column per groupBy value (a whitelist: never interpolate user input). */
const GROUP_COLUMN: Record<Exclude<UsageGroup, 'sandbox'>, string> = {
  key: 'key_id',
  action: 'action',
  shape: 'shape',
  kind: 'kind',
};
const IN_WINDOW = 'org_id = $1 AND hour >= $2 AND hour < $3';

/**
 * The window's roll-up rows as (hour, grp, counters). Per sandbox, the group '' is the usage no
 * sandbox accounts for (agent usage, actions that name none): the organization's whole usage
 * (every event is in `usage_rollups`) less what its sandboxes' roll-ups hold. Only events that
 * name a sandbox are written per sandbox, which keeps the ledger path's extra writes small.
 */
function groupedRows(groupBy: UsageGroup | null): string {
  const counters = 'event_count, sandbox_ms, agent_mc';
  if (groupBy !== 'sandbox') {
    const group = groupBy ? GROUP_COLUMN[groupBy] : 'NULL::text';
    return `SELECT hour, ${group} AS grp, ${counters} FROM usage_rollups WHERE ${IN_WINDOW}`;
  }
  return `SELECT hour, sandbox_id AS grp, ${counters} FROM sandbox_usage_rollups WHERE ${IN_WINDOW}
          UNION ALL SELECT hour, '', ${counters} FROM usage_rollups WHERE ${IN_WINDOW}
          UNION ALL SELECT hour, '', -event_count, -sandbox_ms, -agent_mc FROM sandbox_usage_rollups WHERE ${IN_WINDOW}`;
}

/** One point of a usage series: integer units and their display decimals, all strings. */
export interface UsagePointRow {
  start: string;
  group: string | null;
  events: string;
  sandboxMs: string;
  sandboxHours: string;
  agentMilliCredits: string;
  agentCredits: string;
}

export interface LedgerRow {
  seq: string;
  kind: BalanceKind;
  entryType: string;
  amount: bigint;
  packageId: string | null;
  eventSource: string;
  eventId: string;
  action: string | null;
  keyId: string | null;
  createdAt: Date;
  topic: string | null;
  partition: number | null;
  offset: string | null;
}

/** Read-side SQL of the ops endpoints; every query is scoped by organization where it can be. */
export class OpsRepository {
  constructor(private readonly db: DataSource) {}

  async orgExists(orgId: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM organizations WHERE id = $1', [orgId])).length === 1;
  }

  /**
   * The series, formatted by PostgreSQL, which is cheaper than building the points from bigints
   * in JavaScript (docs/BENCHMARKS.md, ops usage). The decimals are exact `numeric` arithmetic
   * (never floats), rounded half-up to 6 places for hours like `msToHours`.
   */
  async usage(orgId: string, from: Date, to: Date, granularity: Granularity, groupBy: UsageGroup | null) {
    // The primary keys lead with (org, hour) and INCLUDE the counters: an index-only scan in hour
    // order. Roll-up hours are already whole hours, so grouping by the column itself aggregates
    // in that order: no hash, no sort (a groupBy sorts only within each hour).
    const bucket = granularity === 'hour' ? 'hour' : `date_trunc('day', hour, 'UTC')`;
    // A sandbox series' '' group may be empty: HAVING drops it. Other groups count >= 1 event each,
    // and there a HAVING would only skew the row estimate into a hash and sort (docs/BENCHMARKS.md).
    const nonEmpty = groupBy === 'sandbox' ? 'HAVING SUM(event_count) > 0' : '';
    const rows: UsagePointRow[] = await this.db.query(
      `SELECT to_char(start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS start, grp AS "group",
              events::text AS events, sandbox::text AS "sandboxMs",
              trim_scale(round(sandbox::numeric / 3600000, 6))::text AS "sandboxHours",
              agent::text AS "agentMilliCredits", trim_scale(agent::numeric / 1000)::text AS "agentCredits"
         FROM (SELECT ${bucket} AS start, grp, SUM(event_count) AS events, SUM(sandbox_ms) AS sandbox,
                      SUM(agent_mc) AS agent
                 FROM (${groupedRows(groupBy)}) AS r
                GROUP BY 1, 2 ${nonEmpty}) AS s
        ORDER BY s.start, s.grp`,
      [orgId, from, to],
    );
    return rows;
  }

  async packages(orgId: string, at: Date) {
    const rows: {
      id: string;
      sg: string;
      sr: string;
      ag: string;
      ar: string;
      not_before: Date | null;
      not_after: Date | null;
      priority: number;
    }[] = await this.db.query(
      `SELECT id, sandbox_ms_granted::text AS sg, sandbox_ms_remaining::text AS sr, agent_mc_granted::text AS ag,
              agent_mc_remaining::text AS ar, not_before, not_after, priority
         FROM packages WHERE org_id = $1
          AND (not_before IS NULL OR not_before <= $2) AND (not_after IS NULL OR $2 < not_after)
        ORDER BY priority DESC, not_after ASC NULLS LAST, granted_at ASC, id ASC`,
      [orgId, at],
    );
    return rows.map((r) => ({
      id: r.id,
      granted: { sandbox: BigInt(r.sg), agent: BigInt(r.ag) },
      remaining: { sandbox: BigInt(r.sr), agent: BigInt(r.ar) },
      notBefore: r.not_before,
      notAfter: r.not_after,
      priority: r.priority,
    }));
  }

  /** Hourly consumption from `hours` before the current hour to now. */
  async recentBuckets(orgId: string, at: Date, hours: number) {
    const rows: { hour: Date; sandbox: string; agent: string }[] = await this.db.query(
      `SELECT hour, SUM(sandbox_ms)::text AS sandbox, SUM(agent_mc)::text AS agent FROM usage_rollups
        WHERE org_id = $1 AND hour >= date_trunc('hour', $2::timestamptz) - make_interval(hours => $3) AND hour <= $2
        GROUP BY hour`,
      [orgId, at, hours],
    );
    return rows.map((r) => ({ hour: r.hour, sandbox: BigInt(r.sandbox), agent: BigInt(r.agent) }));
  }

  async ledger(orgId: string, before: string | null, limit: number, kind: BalanceKind | null): Promise<LedgerRow[]> {
    const rows: {
      seq: string;
      kind: BalanceKind;
      entry_type: string;
      amount: string;
      package_id: string | null;
      event_source: string;
      event_id: string;
      action: string | null;
      key_id: string | null;
      created_at: Date;
      topic: string | null;
      partition: number | null;
      kafka_offset: string | null;
    }[] = await this.db.query(
      `SELECT l.seq::text AS seq, l.kind, l.entry_type, l.amount::text AS amount, l.package_id, l.event_source,
              l.event_id, l.action, l.key_id, l.created_at, p.topic, p.partition, p.kafka_offset::text AS kafka_offset
         FROM ledger_entries l
         LEFT JOIN processed_events p ON p.source = l.event_source AND p.id = l.event_id
        WHERE l.org_id = $1 AND ($2::bigint IS NULL OR l.seq < $2::bigint) AND ($3::text IS NULL OR l.kind = $3)
        ORDER BY l.seq DESC LIMIT $4`,
      [orgId, before, kind, limit],
    );
    return rows.map((r) => ({
      seq: r.seq,
      kind: r.kind,
      entryType: r.entry_type,
      amount: BigInt(r.amount),
      packageId: r.package_id,
      eventSource: r.event_source,
      eventId: r.event_id,
      action: r.action,
      keyId: r.key_id,
      createdAt: r.created_at,
      topic: r.topic,
      partition: r.partition,
      offset: r.kafka_offset,
    }));
  }

  async asOf(orgId: string): Promise<string> {
    const [row]: { seq: string | null }[] = await this.db.query(
      'SELECT MAX(seq)::text AS seq FROM ledger_entries WHERE org_id = $1',
      [orgId],
    );
    return row?.seq ?? '0';
  }

  async top(kind: BalanceKind, from: Date, to: Date, limit: number) {
    const column = kind === 'sandbox' ? 'sandbox_ms' : 'agent_mc';
    const rows: { org_id: string; total: string }[] = await this.db.query(
      `SELECT org_id, SUM(${column})::text AS total FROM usage_rollups
        WHERE hour >= $1 AND hour < $2 GROUP BY org_id HAVING SUM(${column}) > 0
        ORDER BY SUM(${column}) DESC, org_id LIMIT $3`,
      [from, to, limit],
    );
    return rows.map((r) => ({ orgId: r.org_id, consumed: BigInt(r.total) }));
  }

  async stats(orgId: string) {
    const [row]: { sandboxes: number; projects: number; mcp_servers: number }[] = await this.db.query(
      'SELECT sandboxes, projects, mcp_servers FROM org_resource_counts WHERE org_id = $1',
      [orgId],
    );
    return { sandboxes: row?.sandboxes ?? 0, projects: row?.projects ?? 0, mcpServers: row?.mcp_servers ?? 0 };
  }

  async alerts(orgId: string, limit: number) {
    const rows: {
      id: string;
      kind: string;
      type: string;
      threshold: string | null;
      payload: unknown;
      created_at: Date;
    }[] = await this.db.query(
      `SELECT id, kind, type, threshold, payload, created_at FROM balance_alerts WHERE org_id = $1
          ORDER BY created_at DESC, id DESC LIMIT $2`,
      [orgId, limit],
    );
    return rows;
  }
}
