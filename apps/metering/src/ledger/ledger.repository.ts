import { pgArrayLiteral, withArrayLiterals } from '@tally/database';
import { EntityManager } from 'typeorm';
import { PackageBalance } from './burn-down';
import { EventRef } from './metering-event';
import { HoldState, LedgerLine, overrun, RollupLine, SandboxRollupLine } from './posting';

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

  /**
   * `lockOrganizations` and `markProcessed` in one round trip: locks the orgs (id order), then
   * records as processed the events of the orgs that exist. Returns the existing orgs and the
   * `source|id` of the events seen for the first time.
   */
  async lockAndMarkProcessed(
    orgIds: string[],
    events: (EventRef & { orgId: string })[],
  ): Promise<{ known: Set<string>; firstSeen: Set<string> }> {
    if (orgIds.length === 0) return { known: new Set(), firstSeen: new Set() };
    const rows: { k: 'o' | 'e'; a: string; b: string | null }[] = await this.tx.query(
      `WITH locked AS (SELECT id FROM organizations WHERE id = ANY($1::varchar[]) ORDER BY id FOR UPDATE),
            ins AS (
              INSERT INTO processed_events (source, id, topic, partition, kafka_offset)
              SELECT v.source, v.id, v.topic, v.partition, v.kafka_offset
                FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::varchar[])
                       AS v(source, id, topic, partition, kafka_offset, org_id)
               WHERE v.org_id IN (SELECT id FROM locked)
              ON CONFLICT DO NOTHING RETURNING source, id)
       SELECT 'o' AS k, id AS a, NULL::text AS b FROM locked
       UNION ALL SELECT 'e', source, id FROM ins`,
      withArrayLiterals([
        orgIds,
        events.map((e) => e.source),
        events.map((e) => e.id),
        events.map((e) => e.topic),
        events.map((e) => e.partition),
        events.map((e) => e.offset),
        events.map((e) => e.orgId),
      ]),
    );
    const known = new Set<string>();
    const firstSeen = new Set<string>();
    for (const row of rows) {
      if (row.k === 'o') known.add(row.a);
      else firstSeen.add(`${row.a}|${row.b}`);
    }
    return { known, firstSeen };
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

  /**
   * Everything a posting writes, in one statement of data-modifying CTEs (one round trip instead
   * of five): package remainders, holds (each taking a fresh ledger-sequence value as its
   * version), ledger entries with their outbox rows (as `append`), roll-ups (per grain and per
   * sandbox), alerts.
   */
  async writePosting(posting: {
    packages: PackageBalance[];
    holds: HoldState[];
    entries: LedgerLine[];
    rollups: RollupLine[];
    sandboxRollups: SandboxRollupLine[];
    outbox: OutboxRow[];
    ledgerTopic: string;
    source: string;
  }): Promise<void> {
    const params: unknown[] = [];
    const p = (value: unknown) => {
      params.push(Array.isArray(value) ? pgArrayLiteral(value) : value);
      return `$${params.length}`;
    };
    const ctes: string[] = [];
    const { packages, holds, entries, rollups, sandboxRollups, outbox } = posting;
    if (packages.length) {
      ctes.push(`w_packages AS (
        UPDATE packages p SET sandbox_ms_remaining = v.sandbox, agent_mc_remaining = v.agent
          FROM unnest(${p(packages.map((x) => x.id))}::uuid[], ${p(packages.map((x) => x.remaining.sandbox.toString()))}::bigint[],
                      ${p(packages.map((x) => x.remaining.agent.toString()))}::bigint[]) AS v(id, sandbox, agent)
         WHERE p.id = v.id)`);
    }
    if (holds.length) {
      ctes.push(`w_holds AS (
        INSERT INTO holds (org_id, sandbox_id, shape, price_per_hour, admission_id, reserved_ms, captured_ms, overrun_ms,
                           placed, status, last_sequence, expires_at, released_at, version)
        SELECT v.*, nextval('${LEDGER_SEQUENCE}')
          FROM unnest(${p(holds.map((h) => h.orgId))}::varchar[], ${p(holds.map((h) => h.sandboxId))}::text[],
                      ${p(holds.map((h) => h.shape))}::text[], ${p(holds.map((h) => h.pricePerHour))}::text[],
                      ${p(holds.map((h) => h.admissionId))}::text[], ${p(holds.map((h) => h.reservedMs.toString()))}::bigint[],
                      ${p(holds.map((h) => h.capturedMs.toString()))}::bigint[], ${p(holds.map((h) => overrun(h).toString()))}::bigint[],
                      ${p(holds.map((h) => h.placed))}::boolean[], ${p(holds.map((h) => h.status))}::text[],
                      ${p(holds.map((h) => h.lastSequence))}::int[], ${p(holds.map((h) => h.expiresAt))}::timestamptz[],
                      ${p(holds.map((h) => h.releasedAt))}::timestamptz[]) AS v
        ON CONFLICT (org_id, sandbox_id) DO UPDATE SET
          shape = excluded.shape, price_per_hour = excluded.price_per_hour, admission_id = excluded.admission_id,
          reserved_ms = excluded.reserved_ms, captured_ms = excluded.captured_ms, overrun_ms = excluded.overrun_ms,
          placed = excluded.placed, status = excluded.status, last_sequence = excluded.last_sequence,
          expires_at = excluded.expires_at, released_at = excluded.released_at, version = excluded.version)`);
    }
    if (entries.length) {
      ctes.push(`w_ledger AS (
        INSERT INTO ledger_entries (org_id, package_id, kind, entry_type, amount, event_source, event_id, action, key_id)
        SELECT * FROM unnest(${p(entries.map((e) => e.orgId))}::varchar[], ${p(entries.map((e) => e.packageId))}::uuid[],
                             ${p(entries.map((e) => e.kind))}::text[], ${p(entries.map((e) => e.entryType))}::text[],
                             ${p(entries.map((e) => e.amount.toString()))}::bigint[], ${p(entries.map((e) => e.eventSource))}::text[],
                             ${p(entries.map((e) => e.eventId))}::text[], ${p(entries.map((e) => e.action))}::text[],
                             ${p(entries.map((e) => e.keyId))}::text[])
        ON CONFLICT DO NOTHING
        RETURNING seq, org_id, package_id, kind, entry_type, amount, event_source, event_id, action, key_id, created_at)`);
      ctes.push(`w_ledger_outbox AS (
        INSERT INTO outbox (topic, message_key, payload)
        SELECT ${p(posting.ledgerTopic)}::text, org_id, jsonb_build_object(
                 'specversion', '1.0', 'id', 'ledger-' || seq, 'source', ${p(posting.source)}::text, 'type', 'ledger.posted',
                 'subject', org_id, 'datacontenttype', 'application/json',
                 'time', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                 'data', jsonb_build_object('seq', seq::text, 'orgId', org_id, 'packageId', package_id, 'kind', kind,
                   'entryType', entry_type, 'amount', amount::text, 'eventSource', event_source, 'eventId', event_id,
                   'action', action, 'keyId', key_id))
          FROM w_ledger ORDER BY seq)`);
    }
    if (rollups.length) {
      ctes.push(`w_rollups AS (
        INSERT INTO usage_rollups (org_id, hour, key_id, action, shape, kind, event_count, sandbox_ms, agent_mc)
        SELECT * FROM unnest(${p(rollups.map((l) => l.orgId))}::varchar[], ${p(rollups.map((l) => l.hour))}::timestamptz[],
                             ${p(rollups.map((l) => l.keyId))}::text[], ${p(rollups.map((l) => l.action))}::text[],
                             ${p(rollups.map((l) => l.shape))}::text[], ${p(rollups.map((l) => l.kind))}::text[],
                             ${p(rollups.map((l) => l.count.toString()))}::bigint[], ${p(rollups.map((l) => l.sandboxMs.toString()))}::bigint[],
                             ${p(rollups.map((l) => l.agentMc.toString()))}::bigint[])
        ON CONFLICT (org_id, hour, key_id, action, shape, kind) DO UPDATE SET
          event_count = usage_rollups.event_count + excluded.event_count,
          sandbox_ms = usage_rollups.sandbox_ms + excluded.sandbox_ms,
          agent_mc = usage_rollups.agent_mc + excluded.agent_mc)`);
    }
    if (sandboxRollups.length) {
      ctes.push(`w_sandbox_rollups AS (
        INSERT INTO sandbox_usage_rollups (org_id, hour, sandbox_id, event_count, sandbox_ms, agent_mc)
        SELECT * FROM unnest(${p(sandboxRollups.map((l) => l.orgId))}::varchar[], ${p(sandboxRollups.map((l) => l.hour))}::timestamptz[],
                             ${p(sandboxRollups.map((l) => l.sandboxId))}::text[], ${p(sandboxRollups.map((l) => l.count.toString()))}::bigint[],
                             ${p(sandboxRollups.map((l) => l.sandboxMs.toString()))}::bigint[], ${p(sandboxRollups.map((l) => l.agentMc.toString()))}::bigint[])
        ON CONFLICT (org_id, hour, sandbox_id) DO UPDATE SET
          event_count = sandbox_usage_rollups.event_count + excluded.event_count,
          sandbox_ms = sandbox_usage_rollups.sandbox_ms + excluded.sandbox_ms,
          agent_mc = sandbox_usage_rollups.agent_mc + excluded.agent_mc)`);
    }
    if (outbox.length) {
      ctes.push(`w_alerts AS (
        INSERT INTO outbox (topic, message_key, payload)
        SELECT * FROM unnest(${p(outbox.map((r) => r.topic))}::text[], ${p(outbox.map((r) => r.key))}::text[],
                             ${p(outbox.map((r) => JSON.stringify(r.payload)))}::jsonb[]))`);
    }
    if (ctes.length === 0) return;
    await this.tx.query(`WITH ${ctes.join(',\n')} SELECT 1`, params);
  }
}
