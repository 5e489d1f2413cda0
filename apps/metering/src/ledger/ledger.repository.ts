import { Inject, Injectable } from '@nestjs/common';
import { DATA_SOURCE, loadOrgBalances, pgArrayLiteral } from '@tally/database';
import { DataSource, EntityManager } from 'typeorm';
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

/** A column of a multi-row write: its name, its PostgreSQL type, and how a row gives its value. */
type Column<R> = readonly [name: string, type: string, value: (row: R) => unknown];

const PROCESSED_EVENT: Column<EventRef & { orgId: string }>[] = [
  ['source', 'text', (e) => e.source],
  ['id', 'text', (e) => e.id],
  ['topic', 'text', (e) => e.topic],
  ['partition', 'int', (e) => e.partition],
  ['kafka_offset', 'bigint', (e) => e.offset],
  ['org_id', 'varchar', (e) => e.orgId],
];
/** A runtime report's second dedupe key (`sandbox_report_sequences`). */
export interface ReportSequence {
  orgId: string;
  sandboxId: string;
  sequence: number;
}
const REPORT_SEQUENCE: Column<ReportSequence>[] = [
  ['org_id', 'varchar', (r) => r.orgId],
  ['sandbox_id', 'text', (r) => r.sandboxId],
  ['sequence', 'int', (r) => r.sequence],
];
const HOLD_KEY: Column<{ orgId: string; sandboxId: string }>[] = [
  ['org_id', 'varchar', (h) => h.orgId],
  ['sandbox_id', 'text', (h) => h.sandboxId],
];
const PACKAGE_REMAINING: Column<PackageBalance>[] = [
  ['id', 'uuid', (x) => x.id],
  ['sandbox', 'bigint', (x) => x.remaining.sandbox.toString()],
  ['agent', 'bigint', (x) => x.remaining.agent.toString()],
];
const HOLD: Column<HoldState>[] = [
  ...HOLD_KEY,
  ['shape', 'text', (h) => h.shape],
  ['price_per_hour', 'text', (h) => h.pricePerHour],
  ['admission_id', 'text', (h) => h.admissionId],
  ['reserved_ms', 'bigint', (h) => h.reservedMs.toString()],
  ['captured_ms', 'bigint', (h) => h.capturedMs.toString()],
  ['overrun_ms', 'bigint', (h) => overrun(h).toString()],
  ['placed', 'boolean', (h) => h.placed],
  ['status', 'text', (h) => h.status],
  ['last_sequence', 'int', (h) => h.lastSequence],
  ['expires_at', 'timestamptz', (h) => h.expiresAt],
  ['released_at', 'timestamptz', (h) => h.releasedAt],
];
const LEDGER_ENTRY: Column<LedgerLine>[] = [
  ['org_id', 'varchar', (e) => e.orgId],
  ['package_id', 'uuid', (e) => e.packageId],
  ['kind', 'text', (e) => e.kind],
  ['entry_type', 'text', (e) => e.entryType],
  ['amount', 'bigint', (e) => e.amount.toString()],
  ['event_source', 'text', (e) => e.eventSource],
  ['event_id', 'text', (e) => e.eventId],
  ['action', 'text', (e) => e.action],
  ['key_id', 'text', (e) => e.keyId],
];
const ROLLUP: Column<RollupLine>[] = [
  ['org_id', 'varchar', (l) => l.orgId],
  ['hour', 'timestamptz', (l) => l.hour],
  ['key_id', 'text', (l) => l.keyId],
  ['action', 'text', (l) => l.action],
  ['shape', 'text', (l) => l.shape],
  ['kind', 'text', (l) => l.kind],
  ['event_count', 'bigint', (l) => l.count.toString()],
  ['sandbox_ms', 'bigint', (l) => l.sandboxMs.toString()],
  ['agent_mc', 'bigint', (l) => l.agentMc.toString()],
];
const SANDBOX_ROLLUP: Column<SandboxRollupLine>[] = [
  ['org_id', 'varchar', (l) => l.orgId],
  ['hour', 'timestamptz', (l) => l.hour],
  ['sandbox_id', 'text', (l) => l.sandboxId],
  ['event_count', 'bigint', (l) => l.count.toString()],
  ['sandbox_ms', 'bigint', (l) => l.sandboxMs.toString()],
  ['agent_mc', 'bigint', (l) => l.agentMc.toString()],
];
const OUTBOX: Column<OutboxRow>[] = [
  ['topic', 'text', (r) => r.topic],
  ['message_key', 'text', (r) => r.key],
  ['payload', 'jsonb', (r) => JSON.stringify(r.payload)],
];

/** One statement's parameters, and its `unnest` row sources built from column lists. */
class Statement {
  readonly params: unknown[] = [];

  /** The placeholder of a new parameter (arrays as PostgreSQL literals, see `pgArrayLiteral`). */
  param(value: unknown): string {
    this.params.push(Array.isArray(value) ? pgArrayLiteral(value) : value);
    return `$${this.params.length}`;
  }

  /** `unnest(...) AS alias(names)`: one row per element of `rows`, typed by `columns`. */
  unnest<R>(columns: readonly Column<R>[], rows: readonly R[], alias = 'v'): string {
    const arrays = columns.map(([, type, value]) => `${this.param(rows.map(value))}::${type}[]`);
    return `unnest(${arrays.join(', ')}) AS ${alias}(${names(columns)})`;
  }

  /** `INSERT INTO table (columns) SELECT v.* FROM unnest(...)`, with `extra` computed columns. */
  insert<R>(table: string, columns: readonly Column<R>[], rows: readonly R[], extra: [string, string][] = []): string {
    const into = [names(columns), ...extra.map(([name]) => name)].join(', ');
    const select = ['v.*', ...extra.map(([, expr]) => expr)].join(', ');
    return `INSERT INTO ${table} (${into}) SELECT ${select} FROM ${this.unnest(columns, rows)}`;
  }
}

const names = (columns: readonly Column<never>[]) => columns.map(([name]) => name).join(', ');

/** What a posting writes (`writePosting`); absent parts are empty. */
export interface PostingWrite {
  packages?: PackageBalance[];
  holds?: HoldState[];
  entries?: LedgerLine[];
  rollups?: RollupLine[];
  sandboxRollups?: SandboxRollupLine[];
  outbox?: OutboxRow[];
  ledgerTopic: string;
  source: string;
}

/** A pending Redis refresh of one org (`balance_refreshes`): deleted only at this generation. */
export interface RefreshRequest {
  orgId: string;
  generation: string;
}

/** The organizations a transaction locked (those that exist), and the events it saw first. */
export interface LockedOrgs {
  known: Set<string>;
  /**
   * Recorded as processed by this transaction: `source|id` of events, and
   * `report:orgId|sandboxId|sequence` of runtime reports.
   */
  firstSeen: Set<string>;
}

/** The ledger's transactions and committed balances (the service's only way to PostgreSQL). */
@Injectable()
export class LedgerDatabase {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  /** Runs `work` in one transaction over the ledger's repository. */
  transaction<R>(work: (ledger: LedgerRepository) => Promise<R>): Promise<R> {
    return this.dataSource.transaction((manager) => work(new LedgerRepository(manager)));
  }

  /** Each org's committed balance and holds, as Redis caches them. */
  balances(orgIds: string[], at: Date) {
    return loadOrgBalances(this.dataSource, orgIds, at);
  }

  /**
   * Requests written to Redis: their rows go, unless a newer request bumped the generation since
   * (or a transaction that may bump it holds the row: it refreshes after its own commit).
   */
  async refreshed(requests: RefreshRequest[]): Promise<void> {
    if (requests.length === 0) return;
    await this.dataSource.query(
      `DELETE FROM balance_refreshes WHERE org_id IN (
         SELECT r.org_id FROM balance_refreshes r
           JOIN unnest($1::varchar[], $2::bigint[]) AS d(org_id, generation)
             ON r.org_id = d.org_id AND r.generation = d.generation
          FOR UPDATE OF r SKIP LOCKED)`,
      [pgArrayLiteral(requests.map((r) => r.orgId)), pgArrayLiteral(requests.map((r) => r.generation))],
    );
  }

  /** Refreshes requested at least `olderThanMs` ago and not yet written to Redis, oldest first. */
  async pendingRefreshes(olderThanMs: number, limit: number): Promise<RefreshRequest[]> {
    const rows: { org_id: string; generation: string }[] = await this.dataSource.query(
      `SELECT org_id, generation::text AS generation FROM balance_refreshes
        WHERE requested_at <= now() - $1 * interval '1 millisecond'
        ORDER BY requested_at, org_id LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows.map((row) => ({ orgId: row.org_id, generation: row.generation }));
  }

  /** Counts a failed attempt on each request (they stay pending). */
  async refreshFailed(orgIds: string[]): Promise<void> {
    if (orgIds.length === 0) return;
    await this.dataSource.query(
      'UPDATE balance_refreshes SET attempts = attempts + 1 WHERE org_id = ANY($1::varchar[])',
      [pgArrayLiteral(orgIds)],
    );
  }
}

/**
 * The ledger's SQL, one multi-row statement per step (never a round trip per event). Every
 * method takes the transaction's EntityManager: a batch is one transaction.
 */
export class LedgerRepository {
  constructor(readonly tx: EntityManager) {}

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
   * In one round trip: locks the orgs (id order), then records as processed the events of the
   * orgs that exist. Returns the existing orgs and the
   * `source|id` of the events seen for the first time.
   */
  async lockAndMarkProcessed(
    orgIds: string[],
    events: (EventRef & { orgId: string })[],
    skipLocked = false,
    reports: ReportSequence[] = [],
  ): Promise<LockedOrgs> {
    if (orgIds.length === 0) return { known: new Set(), firstSeen: new Set() };
    if (events.length === 0) return { known: await this.lockOrganizations(orgIds, skipLocked), firstSeen: new Set() };
    const sql = new Statement();
    const rows: LockedRow[] = await this.tx.query(lockAndMarkSql(sql, orgIds, events, reports), sql.params);
    return splitLocked(rows);
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
    const sql = new Statement();
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
         FROM holds h JOIN ${sql.unnest(HOLD_KEY, pairs, 'k')}
           ON h.org_id = k.org_id AND h.sandbox_id = k.sandbox_id
        ORDER BY h.id FOR UPDATE OF h`,
      sql.params,
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
   * Records in the transaction that these orgs' Redis balances must be rewritten (docs/TIME.md):
   * a new row, or a pending one's generation bumped (its first request time kept).
   */
  async requestRefresh(orgIds: string[]): Promise<RefreshRequest[]> {
    if (orgIds.length === 0) return [];
    const rows: { org_id: string; generation: string }[] = await this.tx.query(
      `INSERT INTO balance_refreshes (org_id) SELECT DISTINCT unnest($1::varchar[]) ORDER BY 1
       ON CONFLICT (org_id) DO UPDATE SET generation = balance_refreshes.generation + 1
       RETURNING org_id, generation::text AS generation`,
      [pgArrayLiteral(orgIds)],
    );
    return rows.map((row) => ({ orgId: row.org_id, generation: row.generation }));
  }

  /**
   * Appends ledger entries and, in the same statement, their `ledger.posted` outbox rows: an
   * entry and its event can never disagree.
   */
  async append(entries: LedgerLine[], ledgerTopic: string, source: string): Promise<void> {
    await this.writePosting({ entries, ledgerTopic, source });
  }

  /**
   * Everything a posting writes, in one statement of data-modifying CTEs (one round trip instead
   * of five): package remainders, holds (each taking a fresh ledger-sequence value as its
   * version), ledger entries with their outbox rows, roll-ups (per grain and per sandbox), alerts.
   */
  async writePosting(posting: PostingWrite): Promise<void> {
    const sql = new Statement();
    const { packages = [], holds = [], entries = [], rollups = [], sandboxRollups = [], outbox = [] } = posting;
    const ctes = [
      packages.length && `w_packages AS (${packagesUpdate(sql, packages)})`,
      holds.length && `w_holds AS (${holdsUpsert(sql, holds)})`,
      entries.length && `w_ledger AS (${ledgerInsert(sql, entries)})`,
      entries.length && `w_ledger_outbox AS (${ledgerPostedOutbox(sql, 'w_ledger', posting)})`,
      rollups.length && `w_rollups AS (${rollupsUpsert(sql, rollups)})`,
      sandboxRollups.length && `w_sandbox_rollups AS (${sandboxRollupsUpsert(sql, sandboxRollups)})`,
      outbox.length && `w_alerts AS (${sql.insert('outbox', OUTBOX, outbox)})`,
    ].filter(Boolean);
    if (ctes.length === 0) return;
    await this.tx.query(`WITH ${ctes.join(',\n')} SELECT 1`, sql.params);
  }
}

/** 'o': an org locked (a = id); 'e': an event first seen (a|b = source|id); 'r': a report sequence first seen. */
type LockedRow = { k: 'o' | 'e' | 'r'; a: string; b: string | null };

/** Locks the orgs (id order) and inserts the processed events and report sequences of the existing ones. */
function lockAndMarkSql(
  sql: Statement,
  orgIds: string[],
  events: (EventRef & { orgId: string })[],
  reports: ReportSequence[],
): string {
  const orgs = sql.param(orgIds);
  return `WITH locked AS (SELECT id FROM organizations WHERE id = ANY(${orgs}::varchar[]) ORDER BY id FOR UPDATE),
        ins AS (
          INSERT INTO processed_events (source, id, topic, partition, kafka_offset)
          SELECT v.source, v.id, v.topic, v.partition, v.kafka_offset FROM ${sql.unnest(PROCESSED_EVENT, events)}
           WHERE v.org_id IN (SELECT id FROM locked)
          ON CONFLICT DO NOTHING RETURNING source, id)${
            reports.length
              ? `,
        seq AS (${sql.insert('sandbox_report_sequences', REPORT_SEQUENCE, reports)}
           WHERE v.org_id IN (SELECT id FROM locked)
          ON CONFLICT DO NOTHING RETURNING org_id, sandbox_id, sequence)`
              : ''
          }
   SELECT 'o' AS k, id AS a, NULL::text AS b FROM locked
   UNION ALL SELECT 'e', source, id FROM ins${
     reports.length
       ? `
   UNION ALL SELECT 'r', org_id || '|' || sandbox_id, sequence::text FROM seq`
       : ''
   }`;
}

function splitLocked(rows: LockedRow[]): LockedOrgs {
  const known = new Set<string>();
  const firstSeen = new Set<string>();
  for (const row of rows) {
    if (row.k === 'o') known.add(row.a);
    else firstSeen.add(`${row.k === 'r' ? 'report:' : ''}${row.a}|${row.b}`);
  }
  return { known, firstSeen };
}

const packagesUpdate = (sql: Statement, packages: PackageBalance[]) =>
  `UPDATE packages p SET sandbox_ms_remaining = v.sandbox, agent_mc_remaining = v.agent
     FROM ${sql.unnest(PACKAGE_REMAINING, packages)} WHERE p.id = v.id`;

const holdsUpsert = (sql: Statement, holds: HoldState[]) =>
  `${sql.insert('holds', HOLD, holds, [['version', `nextval('${LEDGER_SEQUENCE}')`]])}
   ON CONFLICT (org_id, sandbox_id) DO UPDATE SET
     shape = excluded.shape, price_per_hour = excluded.price_per_hour, admission_id = excluded.admission_id,
     reserved_ms = excluded.reserved_ms, captured_ms = excluded.captured_ms, overrun_ms = excluded.overrun_ms,
     placed = excluded.placed, status = excluded.status, last_sequence = excluded.last_sequence,
     expires_at = excluded.expires_at, released_at = excluded.released_at, version = excluded.version`;

const ledgerInsert = (sql: Statement, entries: LedgerLine[]) =>
  `${sql.insert('ledger_entries', LEDGER_ENTRY, entries)}
   ON CONFLICT DO NOTHING
   RETURNING seq, ${names(LEDGER_ENTRY)}, created_at`;

/** The `ledger.posted` CloudEvent of each entry inserted by the CTE `from`, in ledger order. */
const ledgerPostedOutbox = (sql: Statement, from: string, { ledgerTopic, source }: PostingWrite) =>
  `INSERT INTO outbox (topic, message_key, payload)
   SELECT ${sql.param(ledgerTopic)}::text, org_id, jsonb_build_object(
            'specversion', '1.0', 'id', 'ledger-' || seq, 'source', ${sql.param(source)}::text, 'type', 'ledger.posted',
            'subject', org_id, 'datacontenttype', 'application/json',
            'time', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'data', jsonb_build_object('seq', seq::text, 'orgId', org_id, 'packageId', package_id, 'kind', kind,
              'entryType', entry_type, 'amount', amount::text, 'eventSource', event_source, 'eventId', event_id,
              'action', action, 'keyId', key_id))
     FROM ${from} ORDER BY seq`;

const rollupsUpsert = (sql: Statement, rollups: RollupLine[]) =>
  `${sql.insert('usage_rollups', ROLLUP, rollups)}
   ON CONFLICT (org_id, hour, key_id, action, shape, kind) DO UPDATE SET
     event_count = usage_rollups.event_count + excluded.event_count,
     sandbox_ms = usage_rollups.sandbox_ms + excluded.sandbox_ms,
     agent_mc = usage_rollups.agent_mc + excluded.agent_mc`;

const sandboxRollupsUpsert = (sql: Statement, lines: SandboxRollupLine[]) =>
  `${sql.insert('sandbox_usage_rollups', SANDBOX_ROLLUP, lines)}
   ON CONFLICT (org_id, hour, sandbox_id) DO UPDATE SET
     event_count = sandbox_usage_rollups.event_count + excluded.event_count,
     sandbox_ms = sandbox_usage_rollups.sandbox_ms + excluded.sandbox_ms,
     agent_mc = sandbox_usage_rollups.agent_mc + excluded.agent_mc`;
