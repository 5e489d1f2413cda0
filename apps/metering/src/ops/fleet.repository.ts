import { DataSource } from 'typeorm';

export type FleetSort = 'attention' | 'emptyAt' | 'name' | 'id';
export const FLEET_SORTS: readonly FleetSort[] = ['attention', 'emptyAt', 'name', 'id'];

/** Per organization and kind, integer units as strings; `emptyAt` null when it does not burn. */
export interface FleetKindRow {
  granted: string;
  remaining: string;
  held: string;
  /** Overage not reversed, counted against the balance (agent credits; 0 for sandbox hours). */
  owed: string;
  available: string;
  burnPerHour: string;
  emptyAt: Date | null;
  /** Threshold keys of the alert state that are firing (`'50'`, `'depleted'`...) and the forecast flag. */
  firing: string[];
  forecast: boolean;
}

export interface FleetRow {
  orgId: string;
  name: string;
  plan: string;
  /** active or suspended (docs/ORGANIZATIONS.md). */
  status: string;
  /** 0 empty (nothing available, further usage is overage), 1 running dry within 24 h, 2 otherwise. */
  attention: number;
  emptyAt: Date | null;
  runningSandboxes: number;
  sandbox: FleetKindRow;
  agent: FleetKindRow;
}

/** ORDER BY per sort (a whitelist: never interpolate user input). Every order ends on the id. */
const ORDER: Record<FleetSort, string> = {
  attention: 'attention, empty_at ASC NULLS LAST, id',
  emptyAt: 'empty_at ASC NULLS LAST, attention, id',
  name: 'name, id',
  id: 'id',
};

/**
 * A kind's columns: what is left less holds and owed overage (as admission counts them), burn
 * per hour over the last 24 h (like `burnRatePerHour`).
 */
const kind = (k: 's' | 'a', remaining: string, held: string, owed: string, burned: string) => `
  ${remaining} AS ${k}_remaining, ${held} AS ${k}_held, ${owed} AS ${k}_owed,
  ${remaining} - ${held} AS ${k}_available, div(${burned} * 3600000, $2::bigint) AS ${k}_burn`;

const emptyAt = (k: 's' | 'a') => `CASE WHEN ${k}_burn > 0 AND ${k}_available > 0
    AND div(${k}_available * 3600000, ${k}_burn) < 8000000000000000
  THEN $1::timestamptz + div(${k}_available * 3600000, ${k}_burn) * interval '1 millisecond' END`;

/**
 * The fleet view's one query: every organization (filtered by id or name), its active packages'
 * totals, outstanding holds, the last 24 h of hourly roll-ups and its alert state, each
 * aggregated once over its table (never a query per organization), sorted and paged in SQL.
 */
export class FleetRepository {
  constructor(private readonly db: DataSource) {}

  async page(
    at: Date,
    spanMs: number,
    filter: string | null,
    sort: FleetSort,
    limit: number,
    offset: number,
  ): Promise<{ total: number; rows: FleetRow[] }> {
    // The plan's estimate (a per-organization probe of months of roll-ups) crosses jit_above_cost,
    // and compiling it took ~200 ms of a ~40 ms query (1,000 orgs, 30 days of roll-ups): no JIT here.
    const rows = await this.db.transaction(async (tx): Promise<PageRow[]> => {
      await tx.query('SET LOCAL jit = off');
      return tx.query(fleetPageSql(sort), [at, spanMs, filter, limit, offset]);
    });
    const total = rows.length > 0 ? (rows[0].total as number) : await this.count(filter);
    return { total, rows: rows.map(toFleetRow) };
  }

  /** The total when the page is past the end (the window count came back with no row). */
  private async count(filter: string | null): Promise<number> {
    const [row]: { n: number }[] = await this.db.query(
      `SELECT COUNT(*)::int AS n FROM organizations
        WHERE $1::text IS NULL OR strpos(lower(id), lower($1)) > 0 OR strpos(lower(name), lower($1)) > 0`,
      [filter],
    );
    return row.n;
  }

  /** Outbox rows not yet relayed, and the age of the oldest. */
  async outboxBacklog(): Promise<{ pending: number; oldestAt: Date | null }> {
    const [row]: { pending: number; oldest: Date | null }[] = await this.db.query(
      'SELECT COUNT(*)::int AS pending, MIN(created_at) AS oldest FROM outbox',
    );
    return { pending: row.pending, oldestAt: row.oldest };
  }

  /** An organization's sandboxes holding sandbox hours now (active, unexpired holds). */
  async runningSandboxes(orgId: string, at: Date) {
    const rows: {
      sandbox_id: string;
      shape: string;
      price_per_hour: string;
      reserved_ms: string;
      captured_ms: string;
      overrun_ms: string;
      placed: boolean;
      expires_at: Date;
      created_at: Date;
      admission_id: string | null;
    }[] = await this.db.query(
      `SELECT sandbox_id, shape, price_per_hour, reserved_ms::text, captured_ms::text, overrun_ms::text, placed,
              expires_at, created_at, admission_id
         FROM holds WHERE org_id = $1 AND status = 'active' AND expires_at > $2
        ORDER BY created_at DESC, sandbox_id LIMIT 500`,
      [orgId, at],
    );
    return rows;
  }

  /** Sums of the organization's ledger per kind and entry type (what "explain this balance" adds up). */
  async ledgerSums(orgId: string) {
    const rows: { kind: 'sandbox' | 'agent'; entry_type: string; on_package: boolean; total: string; n: number }[] =
      await this.db.query(
        `SELECT kind, entry_type, package_id IS NOT NULL AS on_package, SUM(amount)::text AS total, COUNT(*)::int AS n
           FROM ledger_entries WHERE org_id = $1 GROUP BY 1, 2, 3`,
        [orgId],
      );
    return rows;
  }

  /** Remaining of every package (active, not yet started, expired) per kind, and of the active ones. */
  async packageRemainders(orgId: string, at: Date) {
    const [row]: { s_all: string; a_all: string; s_active: string; a_active: string }[] = await this.db.query(
      `SELECT COALESCE(SUM(sandbox_ms_remaining), 0)::text AS s_all, COALESCE(SUM(agent_mc_remaining), 0)::text AS a_all,
              COALESCE(SUM(sandbox_ms_remaining) FILTER (WHERE (not_before IS NULL OR not_before <= $2)
                AND (not_after IS NULL OR $2 < not_after)), 0)::text AS s_active,
              COALESCE(SUM(agent_mc_remaining) FILTER (WHERE (not_before IS NULL OR not_before <= $2)
                AND (not_after IS NULL OR $2 < not_after)), 0)::text AS a_active
         FROM packages WHERE org_id = $1`,
      [orgId, at],
    );
    return row;
  }
}

type PageRow = Record<string, string | number | Date | null | string[] | boolean>;

/** Every listed organization's row, unsorted ($1 at, $2 span in ms, $3 filter). */
const FLEET_ROWS_SQL = `WITH o AS (
       SELECT id, name, plan, status FROM organizations
        WHERE $3::text IS NULL OR strpos(lower(id), lower($3)) > 0 OR strpos(lower(name), lower($3)) > 0
     ), p AS (
       SELECT org_id, SUM(sandbox_ms_granted) AS sg, SUM(sandbox_ms_remaining) AS sr,
              SUM(agent_mc_granted) AS ag, SUM(agent_mc_remaining) AS ar
         FROM packages
        WHERE (not_before IS NULL OR not_before <= $1) AND (not_after IS NULL OR $1 < not_after)
        GROUP BY org_id
     ), h AS (
       SELECT org_id, SUM(GREATEST(reserved_ms - captured_ms, 0)) AS held, COUNT(*)::int AS running
         FROM holds WHERE status = 'active' AND expires_at > $1 GROUP BY org_id
     ), b AS (
       -- Per listed organization, a range of the (org_id, hour) primary key: the roll-ups keep
       -- months of hours, and a scan by hour alone would read them all.
       SELECT o.id AS org_id, x.s, x.a FROM o CROSS JOIN LATERAL (
         SELECT SUM(sandbox_ms) AS s, SUM(agent_mc) AS a FROM usage_rollups
          WHERE org_id = o.id AND hour >= date_trunc('hour', $1::timestamptz) - interval '24 hours' AND hour <= $1
       ) x
     ), d AS (
       -- Agent overage not reversed: owed, shown beside the credits, never taken from them (the same
       -- partial index as loadOrgBalances, ix_ledger_entries_org_agent_overage).
       SELECT o.id AS org_id, x.debt FROM o CROSS JOIN LATERAL (
         SELECT GREATEST(-SUM(amount), 0) AS debt FROM ledger_entries
          WHERE org_id = o.id AND kind = 'agent' AND package_id IS NULL
       ) x
     ), al AS (
       SELECT org_id,
              array_agg(kind || ':' || k) FILTER (WHERE k IS NOT NULL) AS firing,
              array_agg(kind) FILTER (WHERE forecast_fired) AS forecast
         FROM alert_states
         LEFT JOIN LATERAL (SELECT key AS k FROM jsonb_each(thresholds) WHERE (value->>'fired')::boolean) t ON true
        GROUP BY org_id
     ), k AS (
       SELECT o.id, o.name, o.plan, o.status, COALESCE(h.running, 0) AS running,
              COALESCE(p.sg, 0) AS s_granted, COALESCE(p.ag, 0) AS a_granted,
              ${kind('s', 'COALESCE(p.sr, 0)', 'COALESCE(h.held, 0)', '0', 'COALESCE(b.s, 0)')},
              ${kind('a', 'COALESCE(p.ar, 0)', '0', 'COALESCE(d.debt, 0)', 'COALESCE(b.a, 0)')},
              COALESCE(al.firing, '{}') AS firing, COALESCE(al.forecast, '{}') AS forecast
         FROM o LEFT JOIN p ON p.org_id = o.id LEFT JOIN h ON h.org_id = o.id
         LEFT JOIN b ON b.org_id = o.id LEFT JOIN d ON d.org_id = o.id LEFT JOIN al ON al.org_id = o.id
     ), e AS (
       SELECT k.*, ${emptyAt('s')} AS s_empty_at, ${emptyAt('a')} AS a_empty_at FROM k
     ), r AS (
       SELECT e.*, LEAST(s_empty_at, a_empty_at) AS empty_at,
              CASE WHEN (s_granted > 0 AND s_available <= 0) OR (a_granted > 0 AND a_available <= 0)
                        OR 'sandbox:depleted' = ANY(firing) OR 'agent:depleted' = ANY(firing) THEN 0
                   WHEN LEAST(s_empty_at, a_empty_at) <= $1::timestamptz + interval '24 hours' THEN 1
                   ELSE 2 END AS attention
         FROM e
     )
     SELECT id, name, plan, status, running, attention, empty_at, s_empty_at, a_empty_at, firing, forecast,
            s_granted::text, s_remaining::text, s_held::text, s_owed::text, s_available::text, s_burn::text,
            a_granted::text, a_remaining::text, a_held::text, a_owed::text, a_available::text, a_burn::text,
            COUNT(*) OVER ()::int AS total
       FROM r`;

/** One page of them in `sort`'s order ($4 limit, $5 offset), with the total before paging. */
const fleetPageSql = (sort: FleetSort) => `${FLEET_ROWS_SQL} ORDER BY ${ORDER[sort]} LIMIT $4 OFFSET $5`;

function toFleetRow(r: PageRow): FleetRow {
  const firing = r.firing as string[];
  const forecast = r.forecast as string[];
  const kindRow = (k: 's' | 'a', name: string): FleetKindRow => ({
    granted: r[`${k}_granted`] as string,
    remaining: r[`${k}_remaining`] as string,
    held: r[`${k}_held`] as string,
    owed: r[`${k}_owed`] as string,
    available: r[`${k}_available`] as string,
    burnPerHour: r[`${k}_burn`] as string,
    emptyAt: r[`${k}_empty_at`] as Date | null,
    firing: firing.filter((f) => f.startsWith(`${name}:`)).map((f) => f.slice(name.length + 1)),
    forecast: forecast.includes(name),
  });
  return {
    orgId: r.id as string,
    name: r.name as string,
    plan: r.plan as string,
    status: r.status as string,
    attention: r.attention as number,
    emptyAt: r.empty_at as Date | null,
    runningSandboxes: r.running as number,
    sandbox: kindRow('s', 'sandbox'),
    agent: kindRow('a', 'agent'),
  };
}
