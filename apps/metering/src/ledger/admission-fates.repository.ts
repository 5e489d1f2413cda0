import { EntityManager } from 'typeorm';
import { AdmissionFate, eventKey, fateKey } from './admission-fates';
import type { LedgerLine } from './posting';

interface FateRow {
  org_id: string;
  admission_id: string;
  fate: AdmissionFate['fate'];
  event_source: string | null;
  event_id: string | null;
  action: string | null;
  sandbox_id: string | null;
  reserved_ms: string;
  void_reason: string | null;
}

/** admission_fates' SQL, in the batch's transaction (its orgs are locked by it). */
export class AdmissionFatesRepository {
  constructor(private readonly tx: EntityManager) {}

  /** The fates of these admissions, locked until the transaction ends. */
  async lock(pairs: { orgId: string; admissionId: string }[]): Promise<Map<string, AdmissionFate>> {
    if (pairs.length === 0) return new Map();
    const rows: FateRow[] = await this.tx.query(
      `SELECT f.org_id, f.admission_id, f.fate, f.event_source, f.event_id, f.action, f.sandbox_id, f.reserved_ms, f.void_reason
         FROM admission_fates f JOIN unnest($1::varchar[], $2::varchar[]) AS k(org_id, admission_id)
           ON f.org_id = k.org_id AND f.admission_id = k.admission_id
        ORDER BY f.org_id, f.admission_id FOR UPDATE OF f`,
      [pairs.map((p) => p.orgId), pairs.map((p) => p.admissionId)],
    );
    return new Map(rows.map((row) => [fateKey(row.org_id, row.admission_id), fromRow(row)]));
  }

  /** The debit and overage lines these events wrote, by `source|id` (what a void reverses). */
  async settledLines(refs: { source: string; id: string }[]): Promise<Map<string, LedgerLine[]>> {
    const byEvent = new Map<string, LedgerLine[]>();
    if (refs.length === 0) return byEvent;
    const rows: {
      org_id: string;
      package_id: string | null;
      kind: LedgerLine['kind'];
      entry_type: LedgerLine['entryType'];
      amount: string;
      event_source: string;
      event_id: string;
      action: string | null;
      key_id: string | null;
    }[] = await this.tx.query(
      `SELECT e.org_id, e.package_id, e.kind, e.entry_type, e.amount, e.event_source, e.event_id, e.action, e.key_id
         FROM ledger_entries e JOIN unnest($1::text[], $2::text[]) AS k(source, id)
           ON e.event_source = k.source AND e.event_id = k.id
        WHERE e.entry_type IN ('debit', 'overage')
        ORDER BY e.seq`,
      [refs.map((r) => r.source), refs.map((r) => r.id)],
    );
    for (const row of rows) {
      const key = eventKey(row.event_source, row.event_id);
      const line: LedgerLine = {
        orgId: row.org_id,
        packageId: row.package_id,
        kind: row.kind,
        entryType: row.entry_type,
        amount: BigInt(row.amount),
        eventSource: row.event_source,
        eventId: row.event_id,
        action: row.action,
        keyId: row.key_id,
      };
      byEvent.set(key, [...(byEvent.get(key) ?? []), line]);
    }
    return byEvent;
  }

  /** Writes the fates the batch changed (one multi-row upsert). */
  async write(fates: AdmissionFate[]): Promise<void> {
    if (fates.length === 0) return;
    const column = <T>(pick: (fate: AdmissionFate) => T) => fates.map(pick);
    await this.tx.query(
      `INSERT INTO admission_fates
              (org_id, admission_id, fate, event_source, event_id, action, sandbox_id, reserved_ms, void_reason, updated_at)
       SELECT v.org_id, v.admission_id, v.fate, v.event_source, v.event_id, v.action, v.sandbox_id, v.reserved_ms, v.void_reason, now()
         FROM unnest($1::varchar[], $2::varchar[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[])
              AS v(org_id, admission_id, fate, event_source, event_id, action, sandbox_id, reserved_ms, void_reason)
       ON CONFLICT (org_id, admission_id) DO UPDATE
          SET fate = EXCLUDED.fate, event_source = EXCLUDED.event_source, event_id = EXCLUDED.event_id,
              action = EXCLUDED.action, sandbox_id = EXCLUDED.sandbox_id, reserved_ms = EXCLUDED.reserved_ms,
              void_reason = EXCLUDED.void_reason, updated_at = now()`,
      [
        column((f) => f.orgId),
        column((f) => f.admissionId),
        column((f) => f.fate),
        column((f) => f.eventSource),
        column((f) => f.eventId),
        column((f) => f.action),
        column((f) => f.sandboxId),
        column((f) => f.reservedMs.toString()),
        column((f) => f.voidReason),
      ],
    );
  }
}

const fromRow = (row: FateRow): AdmissionFate => ({
  orgId: row.org_id,
  admissionId: row.admission_id,
  fate: row.fate,
  eventSource: row.event_source,
  eventId: row.event_id,
  action: row.action,
  sandboxId: row.sandbox_id,
  reservedMs: BigInt(row.reserved_ms),
  voidReason: row.void_reason,
  dirty: false,
});
