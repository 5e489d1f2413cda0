import { BalanceKind } from '@tally/contracts';
import { EntityManager } from 'typeorm';
import { PackageBalance } from './burn-down';

export interface ProcessedEventRef {
  source: string;
  id: string;
  topic: string;
  partition: number;
  offset: string;
}

export interface NewLedgerEntry {
  orgId: string;
  packageId: string | null;
  kind: BalanceKind;
  entryType: 'debit' | 'overage';
  amount: bigint;
  eventSource: string;
  eventId: string;
  action: string | null;
  keyId: string | null;
}

/**
 * The ledger's SQL, one multi-row statement per step (never a round trip per event). Every
 * method takes the transaction's EntityManager: a batch is one transaction.
 */
export class LedgerRepository {
  constructor(private readonly tx: EntityManager) {}

  /** Records events as processed; returns the `source|id` of those seen for the first time. */
  async markProcessed(events: ProcessedEventRef[]): Promise<Set<string>> {
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

  /** The orgs' packages, locked until the transaction ends (in id order, so batches never deadlock). */
  async lockPackages(orgIds: string[]): Promise<Map<string, PackageBalance[]>> {
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
    const byOrg = new Map<string, PackageBalance[]>(orgIds.map((orgId) => [orgId, []]));
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

  async append(entries: NewLedgerEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.tx.query(
      `INSERT INTO ledger_entries (org_id, package_id, kind, entry_type, amount, event_source, event_id, action, key_id)
       SELECT * FROM unnest($1::varchar[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[])
       ON CONFLICT DO NOTHING`,
      [
        entries.map((e) => e.orgId),
        entries.map((e) => e.packageId),
        entries.map((e) => e.kind),
        entries.map((e) => e.entryType),
        entries.map((e) => (-e.amount).toString()),
        entries.map((e) => e.eventSource),
        entries.map((e) => e.eventId),
        entries.map((e) => e.action),
        entries.map((e) => e.keyId),
      ],
    );
  }
}
