import { EntityManager } from 'typeorm';
import { PackageBalance } from './burn-down';
import { EventRef } from './metering-event';
import { HoldState, LedgerLine, overrun, RollupLine } from './posting';

/** Sequence shared by ledger entries and hold versions: one ordering for balance snapshots. */
export const LEDGER_SEQUENCE = 'ledger_entries_seq_seq';

export interface OutboxRow {
  topic: string;
  key: string;
  payload: unknown;
}

/**
 * The ledger's SQL, one multi-row statement per step (never a round trip per event). Every
 * method takes the transaction's EntityManager: a batch is one transaction.
 */
export class LedgerRepository {
  constructor(private readonly tx: EntityManager) {}

  /**
   * Locks the organizations' rows (in id order, so concurrent batches never deadlock) for the
   * transaction: every writer of an org's balance (consumer, expiry, grants) takes this lock,
   * which keeps ledger positions in commit order per org. Returns the orgs that exist.
   */
  async lockOrganizations(orgIds: string[], skipLocked = false): Promise<Set<string>> {
    if (orgIds.length === 0) return new Set();
    const rows: { id: string }[] = await this.tx.query(
      `SELECT id FROM organizations WHERE id = ANY($1::varchar[]) ORDER BY id FOR UPDATE${skipLocked ? ' SKIP LOCKED' : ''}`,
      [orgIds],
    );
    return new Set(rows.map((row) => row.id));
  }

  /** Records events as processed; returns the `source|id` of those seen for the first time. */
  async markProcessed(events: EventRef[]): Promise<Set<string>> {
    if (events.length === 0) return new Set();
    const rows: { source: string; id: string }[] = await this.tx.query(
      `INSERT INTO processed_events (source, id, topic, partition, kafka_offset)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[])
       ON CONFLICT DO NOTHING RETURNING source, id`,
      [
        events.map((e) => e.source),
        events.map((e) => e.id),
        events.map((e) => e.topic),
        events.map((e) => e.partition),
        events.map((e) => e.offset),
      ],
    );
    return new Set(rows.map((row) => `${row.source}|${row.id}`));
  }

  /** The orgs' packages, locked until the transaction ends. */
  async lockPackages(orgIds: string[]): Promise<Map<string, PackageBalance[]>> {
    const byOrg = new Map<string, PackageBalance[]>(orgIds.map((orgId) => [orgId, []]));
    if (orgIds.length === 0) return byOrg;
    const rows: {
      id: string;
      org_id: string;
      priority: number;
      not_before: Date | null;
      not_after: Date | null;
      granted_at: Date;
      sandbox_ms_remaining: string;
      agent_mc_remaining: string;
    }[] = await this.tx.query(
      `SELECT id, org_id, priority, not_before, not_after, granted_at, sandbox_ms_remaining, agent_mc_remaining
         FROM packages WHERE org_id = ANY($1::varchar[]) ORDER BY id FOR UPDATE`,
      [orgIds],
    );
    for (const row of rows) {
      byOrg.get(row.org_id)!.push({
        id: row.id,
        priority: row.priority,
        notBefore: row.not_before,
        notAfter: row.not_after,
        grantedAt: row.granted_at,
        remaining: { sandbox: BigInt(row.sandbox_ms_remaining), agent: BigInt(row.agent_mc_remaining) },
      });
    }
    return byOrg;
  }

  async saveRemainders(packages: PackageBalance[]): Promise<void> {
    if (packages.length === 0) return;
    await this.tx.query(
      `UPDATE packages p SET sandbox_ms_remaining = v.sandbox, agent_mc_remaining = v.agent
         FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS v(id, sandbox, agent)
        WHERE p.id = v.id`,
      [
        packages.map((p) => p.id),
        packages.map((p) => p.remaining.sandbox.toString()),
        packages.map((p) => p.remaining.agent.toString()),
      ],
    );
  }

  /** The holds of these (org, sandbox) pairs, locked. */
  async lockHolds(pairs: { orgId: string; sandboxId: string }[]): Promise<HoldState[]> {
    if (pairs.length === 0) return [];
    const rows: {
      org_id: string;
      sandbox_id: string;
      shape: string;
      price_per_hour: string;
      admission_id: string | null;
      reserved_ms: string;
      captured_ms: string;
      placed: boolean;
      status: HoldState['status'];
      last_sequence: number;
      expires_at: Date;
      released_at: Date | null;
    }[] = await this.tx.query(
      `SELECT h.org_id, h.sandbox_id, h.shape, h.price_per_hour, h.admission_id, h.reserved_ms, h.captured_ms,
              h.placed, h.status, h.last_sequence, h.expires_at, h.released_at
         FROM holds h JOIN unnest($1::varchar[], $2::text[]) AS k(org_id, sandbox_id)
           ON h.org_id = k.org_id AND h.sandbox_id = k.sandbox_id
        ORDER BY h.id FOR UPDATE OF h`,
      [pairs.map((p) => p.orgId), pairs.map((p) => p.sandboxId)],
    );
    return rows.map((row) => ({
      orgId: row.org_id,
      sandboxId: row.sandbox_id,
      shape: row.shape,
      pricePerHour: row.price_per_hour,
      admissionId: row.admission_id,
      reservedMs: BigInt(row.reserved_ms),
      capturedMs: BigInt(row.captured_ms),
      placed: row.placed,
      status: row.status,
      lastSequence: row.last_sequence,
      expiresAt: row.expires_at,
      releasedAt: row.released_at,
      dirty: false,
    }));
  }

  /** Writes changed holds; each takes a fresh ledger-sequence value as its version. */
  async saveHolds(holds: HoldState[]): Promise<void> {
    if (holds.length === 0) return;
    await this.tx.query(
      `INSERT INTO holds (org_id, sandbox_id, shape, price_per_hour, admission_id, reserved_ms, captured_ms, overrun_ms,
                          placed, status, last_sequence, expires_at, released_at, version)
       SELECT v.*, nextval('${LEDGER_SEQUENCE}')
         FROM unnest($1::varchar[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[],
                     $9::boolean[], $10::text[], $11::int[], $12::timestamptz[], $13::timestamptz[]) AS v
       ON CONFLICT (org_id, sandbox_id) DO UPDATE SET
         shape = excluded.shape, price_per_hour = excluded.price_per_hour, admission_id = excluded.admission_id,
         reserved_ms = excluded.reserved_ms, captured_ms = excluded.captured_ms, overrun_ms = excluded.overrun_ms,
         placed = excluded.placed, status = excluded.status, last_sequence = excluded.last_sequence,
         expires_at = excluded.expires_at, released_at = excluded.released_at, version = excluded.version`,
      [
        holds.map((h) => h.orgId),
        holds.map((h) => h.sandboxId),
        holds.map((h) => h.shape),
        holds.map((h) => h.pricePerHour),
        holds.map((h) => h.admissionId),
        holds.map((h) => h.reservedMs.toString()),
        holds.map((h) => h.capturedMs.toString()),
        holds.map((h) => overrun(h).toString()),
        holds.map((h) => h.placed),
        holds.map((h) => h.status),
        holds.map((h) => h.lastSequence),
        holds.map((h) => h.expiresAt),
        holds.map((h) => h.releasedAt),
      ],
    );
  }

  /**
   * Appends ledger entries and, in the same statement, their `ledger.posted` outbox rows: an
   * entry and its event can never disagree.
   */
  async append(entries: LedgerLine[], topic: string, source: string): Promise<void> {
    if (entries.length === 0) return;
    await this.tx.query(
      `WITH ins AS (
         INSERT INTO ledger_entries (org_id, package_id, kind, entry_type, amount, event_source, event_id, action, key_id)
         SELECT * FROM unnest($1::varchar[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[],
                              $8::text[], $9::text[])
         ON CONFLICT DO NOTHING
         RETURNING seq, org_id, package_id, kind, entry_type, amount, event_source, event_id, action, key_id, created_at)
       INSERT INTO outbox (topic, message_key, payload)
       SELECT $10, org_id, jsonb_build_object(
                'specversion', '1.0', 'id', 'ledger-' || seq, 'source', $11::text, 'type', 'ledger.posted',
                'subject', org_id, 'datacontenttype', 'application/json',
                'time', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'data', jsonb_build_object('seq', seq::text, 'orgId', org_id, 'packageId', package_id, 'kind', kind,
                  'entryType', entry_type, 'amount', amount::text, 'eventSource', event_source, 'eventId', event_id,
                  'action', action, 'keyId', key_id))
         FROM ins ORDER BY seq`,
      [
        entries.map((e) => e.orgId),
        entries.map((e) => e.packageId),
        entries.map((e) => e.kind),
        entries.map((e) => e.entryType),
        entries.map((e) => e.amount.toString()),
        entries.map((e) => e.eventSource),
        entries.map((e) => e.eventId),
        entries.map((e) => e.action),
        entries.map((e) => e.keyId),
        topic,
        source,
      ],
    );
  }

  async upsertRollups(lines: RollupLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.tx.query(
      `INSERT INTO usage_rollups (org_id, hour, key_id, action, shape, kind, event_count, sandbox_ms, agent_mc)
       SELECT * FROM unnest($1::varchar[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
                            $7::bigint[], $8::bigint[], $9::bigint[])
       ON CONFLICT (org_id, hour, key_id, action, shape, kind) DO UPDATE SET
         event_count = usage_rollups.event_count + excluded.event_count,
         sandbox_ms = usage_rollups.sandbox_ms + excluded.sandbox_ms,
         agent_mc = usage_rollups.agent_mc + excluded.agent_mc`,
      [
        lines.map((l) => l.orgId),
        lines.map((l) => l.hour),
        lines.map((l) => l.keyId),
        lines.map((l) => l.action),
        lines.map((l) => l.shape),
        lines.map((l) => l.kind),
        lines.map((l) => l.count.toString()),
        lines.map((l) => l.sandboxMs.toString()),
        lines.map((l) => l.agentMc.toString()),
      ],
    );
  }

  async enqueue(rows: OutboxRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.tx.query(
      `INSERT INTO outbox (topic, message_key, payload) SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])`,
      [rows.map((r) => r.topic), rows.map((r) => r.key), rows.map((r) => JSON.stringify(r.payload))],
    );
  }
}
