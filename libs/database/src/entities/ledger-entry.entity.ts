import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintTransformer } from './bigint.transformer';

/** `reversal`: undoes a voided admission's debit or overage (positive; the ledger stays append-only). */
export type LedgerEntryType = 'grant' | 'debit' | 'forfeit' | 'overage' | 'reversal';

/**
 * Append-only. `seq` is the ledger position: Redis balances are versioned by it. A replayed event
 * cannot post twice: (org, event source, event id, package, kind, entry type) is unique, nulls equal
 * (the index is created by the migration; TypeORM cannot express NULLS NOT DISTINCT).
 */
@Entity({ name: 'ledger_entries' })
@Index('uq_ledger_entries_event', { synchronize: false })
@Index('ix_ledger_entries_org_seq', ['orgId', 'seq'])
// Agent overage and its reversals (no package): summed for every balance snapshot (agent debt).
@Index('ix_ledger_entries_org_agent_overage', ['orgId'], { where: "kind = 'agent' AND package_id IS NULL" })
export class LedgerEntryEntity {
  /** bigint as a decimal string (`pg` returns bigint that way). */
  @PrimaryGeneratedColumn({ type: 'bigint' })
  seq: string;

  @Column({ name: 'org_id', type: 'varchar', length: 30 })
  orgId: string;

  @Column({ name: 'package_id', type: 'uuid', nullable: true })
  packageId: string | null;

  @Column({ type: 'text' })
  kind: 'sandbox' | 'agent';

  @Column({ name: 'entry_type', type: 'text' })
  entryType: LedgerEntryType;

  /** Signed integer units: grants positive, debits and forfeits negative. */
  @Column({ type: 'bigint', transformer: bigintTransformer })
  amount: bigint;

  @Column({ name: 'event_source', type: 'text' })
  eventSource: string;

  @Column({ name: 'event_id', type: 'text' })
  eventId: string;

  @Column({ type: 'text', nullable: true })
  action: string | null;

  @Column({ name: 'key_id', type: 'text', nullable: true })
  keyId: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
