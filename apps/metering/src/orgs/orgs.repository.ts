import { Inject, Injectable } from '@nestjs/common';
import { DATA_SOURCE, OrgStatus } from '@tally/database';
import { DataSource, EntityManager } from 'typeorm';
import { EventRef } from '../ledger/metering-event';

export interface OrgRow {
  id: string;
  name: string;
  plan: string;
  status: OrgStatus;
  suspendedReason: string | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** What one change sets; absent fields are kept. */
export interface OrgChanges {
  name?: string;
  plan?: string;
  status?: OrgStatus;
  suspendedReason?: string | null;
}

const COLUMNS = 'id, name, plan, status, suspended_reason, version, created_at, updated_at';

/** The organizations table's SQL: one query a method, each taking the organization id. */
@Injectable()
export class OrgsRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  transaction<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  async find(orgId: string): Promise<OrgRow | null> {
    const [row] = await this.db.query(`SELECT ${COLUMNS} FROM organizations WHERE id = $1`, [orgId]);
    return row ? toRow(row) : null;
  }

  async planExists(tx: EntityManager, plan: string): Promise<boolean> {
    return (await tx.query('SELECT 1 FROM plans WHERE name = $1', [plan])).length > 0;
  }

  /** The new organization, or null when one with this id exists. */
  async insert(tx: EntityManager, org: { id: string; name: string; plan: string }): Promise<OrgRow | null> {
    const [row] = await tx.query(
      `INSERT INTO organizations (id, name, plan) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
      [org.id, org.name, org.plan],
    );
    return row ? toRow(row) : null;
  }

  /** The organization, locked until the transaction ends (changes to one org serialize). */
  async lock(tx: EntityManager, orgId: string): Promise<OrgRow | null> {
    const [row] = await tx.query(`SELECT ${COLUMNS} FROM organizations WHERE id = $1 FOR UPDATE`, [orgId]);
    return row ? toRow(row) : null;
  }

  /** Applies `changes` and bumps the version. */
  async update(tx: EntityManager, orgId: string, changes: OrgChanges): Promise<OrgRow> {
    const [row] = await tx.query(
      `WITH changed AS (
         UPDATE organizations SET
           name = COALESCE($2, name),
           plan = COALESCE($3, plan),
           status = COALESCE($4, status),
           suspended_reason = CASE WHEN $5::boolean THEN $6 ELSE suspended_reason END,
           version = version + 1,
           updated_at = now()
         WHERE id = $1 RETURNING ${COLUMNS})
       SELECT * FROM changed`,
      [
        orgId,
        changes.name ?? null,
        changes.plan ?? null,
        changes.status ?? null,
        changes.suspendedReason !== undefined,
        changes.suspendedReason ?? null,
      ],
    );
    return toRow(row);
  }

  /** The org's own alert thresholds (null: none set); undefined when there is no such org. */
  async alertThresholds(orgId: string): Promise<number[] | null | undefined> {
    const [row]: { alert_thresholds: number[] | null }[] = await this.db.query(
      'SELECT alert_thresholds FROM organizations WHERE id = $1',
      [orgId],
    );
    return row ? (row.alert_thresholds?.map(Number) ?? null) : undefined;
  }

  /** Sets (null: clears) the org's alert thresholds; false when there is no such org. */
  async setAlertThresholds(orgId: string, thresholds: number[] | null): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      `WITH changed AS (UPDATE organizations SET alert_thresholds = $2::integer[], updated_at = now() WHERE id = $1 RETURNING id)
       SELECT id FROM changed`,
      [orgId, thresholds === null ? null : `{${thresholds.join(',')}}`],
    );
    return rows.length > 0;
  }

  /** Records the event as applied; false when it already was (a redelivery). */
  async markProcessed(tx: EntityManager, event: EventRef): Promise<boolean> {
    const rows: unknown[] = await tx.query(
      `INSERT INTO processed_events (source, id, topic, partition, kafka_offset) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT DO NOTHING RETURNING id`,
      [event.source, event.id, event.topic, event.partition, event.offset],
    );
    return rows.length > 0;
  }
}

function toRow(row: {
  id: string;
  name: string;
  plan: string;
  status: OrgStatus;
  suspended_reason: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}): OrgRow {
  return {
    id: row.id,
    name: row.name,
    plan: row.plan,
    status: row.status,
    suspendedReason: row.suspended_reason,
    version: Number(row.version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
