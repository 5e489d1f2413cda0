import { BalanceKind } from '@tally/contracts';
import { withArrayLiterals } from '@tally/database';
import { EntityManager } from 'typeorm';
import { AlertState } from './alert-policy';

export interface OrgKindTotals {
  orgId: string;
  kind: BalanceKind;
  total: bigint;
  remaining: bigint;
}

export interface StoredAlert {
  id: string;
  orgId: string;
  kind: BalanceKind;
  type: string;
  threshold: string | null;
  topic: string;
  payload: unknown;
}

/** The alert engine's SQL, run inside the posting's transaction (one statement per step). */
export class AlertStateRepository {
  constructor(private readonly tx: EntityManager) {}

  /** Granted and remaining units of the packages active at each org's `at`, per kind. */
  async activeTotals(orgs: { orgId: string; at: Date }[]): Promise<OrgKindTotals[]> {
    if (orgs.length === 0) return [];
    const rows: { org_id: string; sg: string; sr: string; ag: string; ar: string }[] = await this.tx.query(
      `SELECT v.org_id,
              COALESCE(SUM(p.sandbox_ms_granted), 0)::text AS sg, COALESCE(SUM(p.sandbox_ms_remaining), 0)::text AS sr,
              COALESCE(SUM(p.agent_mc_granted), 0)::text AS ag, COALESCE(SUM(p.agent_mc_remaining), 0)::text AS ar
         FROM unnest($1::varchar[], $2::timestamptz[]) AS v(org_id, at)
         LEFT JOIN packages p ON p.org_id = v.org_id
              AND (p.not_before IS NULL OR p.not_before <= v.at) AND (p.not_after IS NULL OR v.at < p.not_after)
        GROUP BY v.org_id`,
      withArrayLiterals([orgs.map((o) => o.orgId), orgs.map((o) => o.at)]),
    );
    return rows.flatMap((r) => [
      { orgId: r.org_id, kind: 'sandbox' as const, total: BigInt(r.sg), remaining: BigInt(r.sr) },
      { orgId: r.org_id, kind: 'agent' as const, total: BigInt(r.ag), remaining: BigInt(r.ar) },
    ]);
  }

  /** Each org's own alert thresholds, for the orgs that set them (the others use ALERT_THRESHOLDS). */
  async thresholds(orgIds: string[]): Promise<Map<string, number[]>> {
    if (orgIds.length === 0) return new Map();
    const rows: { id: string; alert_thresholds: number[] }[] = await this.tx.query(
      'SELECT id, alert_thresholds FROM organizations WHERE id = ANY($1::varchar[]) AND alert_thresholds IS NOT NULL',
      withArrayLiterals([orgIds]),
    );
    return new Map(rows.map((r) => [r.id, r.alert_thresholds.map(Number)]));
  }

  /** Hourly consumption per org from the roll-ups, from `hours` before each `at`'s hour to `at`. */
  async recentBuckets(
    orgs: { orgId: string; at: Date }[],
    hours: number,
  ): Promise<{ orgId: string; hour: Date; sandbox: bigint; agent: bigint }[]> {
    if (orgs.length === 0) return [];
    const rows: { org_id: string; hour: Date; sandbox: string; agent: string }[] = await this.tx.query(
      `SELECT r.org_id, r.hour, SUM(r.sandbox_ms)::text AS sandbox, SUM(r.agent_mc)::text AS agent
         FROM unnest($1::varchar[], $2::timestamptz[]) AS v(org_id, at)
         JOIN usage_rollups r ON r.org_id = v.org_id
              AND r.hour >= date_trunc('hour', v.at) - make_interval(hours => $3) AND r.hour <= v.at
        GROUP BY r.org_id, r.hour`,
      withArrayLiterals([orgs.map((o) => o.orgId), orgs.map((o) => o.at), hours]),
    );
    return rows.map((r) => ({ orgId: r.org_id, hour: r.hour, sandbox: BigInt(r.sandbox), agent: BigInt(r.agent) }));
  }

  async load(orgIds: string[]): Promise<Map<string, AlertState>> {
    const states = new Map<string, AlertState>();
    if (orgIds.length === 0) return states;
    const rows: {
      org_id: string;
      kind: string;
      thresholds: AlertState['thresholds'];
      forecast_fired: boolean;
      forecast_count: number;
      forecast_remaining: string | null;
    }[] = await this.tx.query(
      `SELECT org_id, kind, thresholds, forecast_fired, forecast_count, forecast_remaining
         FROM alert_states WHERE org_id = ANY($1::varchar[])`,
      withArrayLiterals([orgIds]),
    );
    for (const row of rows) {
      states.set(`${row.org_id}|${row.kind}`, {
        thresholds: row.thresholds,
        forecastFired: row.forecast_fired,
        forecastCount: row.forecast_count,
        forecastRemaining: row.forecast_remaining === null ? null : BigInt(row.forecast_remaining),
      });
    }
    return states;
  }

  async save(states: { orgId: string; kind: BalanceKind; state: AlertState }[]): Promise<void> {
    if (states.length === 0) return;
    await this.tx.query(
      `INSERT INTO alert_states (org_id, kind, thresholds, forecast_fired, forecast_count, forecast_remaining, updated_at)
       SELECT v.*, now() FROM unnest($1::varchar[], $2::text[], $3::jsonb[], $4::boolean[], $5::int[], $6::bigint[]) AS v
       ON CONFLICT (org_id, kind) DO UPDATE SET thresholds = excluded.thresholds,
         forecast_fired = excluded.forecast_fired, forecast_count = excluded.forecast_count,
         forecast_remaining = excluded.forecast_remaining, updated_at = now()`,
      withArrayLiterals([
        states.map((s) => s.orgId),
        states.map((s) => s.kind),
        states.map((s) => JSON.stringify(s.state.thresholds)),
        states.map((s) => s.state.forecastFired),
        states.map((s) => s.state.forecastCount),
        states.map((s) => s.state.forecastRemaining?.toString() ?? null),
      ]),
    );
  }

  /** The alerts, kept for the ops page and written to the outbox in the same statement. */
  async raise(alerts: StoredAlert[]): Promise<void> {
    if (alerts.length === 0) return;
    await this.tx.query(
      `WITH ins AS (
         INSERT INTO balance_alerts (id, org_id, kind, type, threshold, payload)
         SELECT * FROM unnest($1::text[], $2::varchar[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
         ON CONFLICT (id) DO NOTHING RETURNING id, org_id, payload)
       INSERT INTO outbox (topic, message_key, payload)
       SELECT t.topic, ins.org_id, ins.payload FROM ins JOIN unnest($1::text[], $7::text[]) AS t(id, topic) ON t.id = ins.id`,
      withArrayLiterals([
        alerts.map((a) => a.id),
        alerts.map((a) => a.orgId),
        alerts.map((a) => a.kind),
        alerts.map((a) => a.type),
        alerts.map((a) => a.threshold),
        alerts.map((a) => JSON.stringify(a.payload)),
        alerts.map((a) => a.topic),
      ]),
    );
  }
}
