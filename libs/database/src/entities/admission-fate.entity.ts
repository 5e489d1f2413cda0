import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from './bigint.transformer';

export type AdmissionFateKind = 'settled' | 'voided';

/**
 * One row per admission metering has heard of: `settled` when its verified event was posted (what
 * it did, so a later void can undo it), `voided` when a void came (first, as a tombstone the
 * verified event then bills nothing against, or after, having been undone). An admission with no
 * row and no durable hold expired in quota. docs/FATES.md.
 */
@Entity({ name: 'admission_fates' })
export class AdmissionFateEntity {
  @PrimaryColumn({ name: 'org_id', type: 'varchar', length: 30 })
  orgId: string;

  @PrimaryColumn({ name: 'admission_id', type: 'varchar', length: 128 })
  admissionId: string;

  @Column({ type: 'text' })
  fate: AdmissionFateKind;

  /** The verified event that settled it (null for a void that came first). */
  @Column({ name: 'event_source', type: 'text', nullable: true })
  eventSource: string | null;

  @Column({ name: 'event_id', type: 'text', nullable: true })
  eventId: string | null;

  @Column({ type: 'text', nullable: true })
  action: string | null;

  @Column({ name: 'sandbox_id', type: 'text', nullable: true })
  sandboxId: string | null;

  /** Sandbox-ms it added to its sandbox's hold (create, extend). */
  @Column({ name: 'reserved_ms', type: 'bigint', transformer: bigintTransformer, default: 0 })
  reservedMs: bigint;

  @Column({ name: 'void_reason', type: 'text', nullable: true })
  voidReason: string | null;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
