import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintTransformer } from './bigint.transformer';

export type HoldStatus = 'active' | 'released' | 'expired';

/**
 * A durable two-phase hold on sandbox hours, one per sandbox (docs/ARCHITECTURE.md §5): `sandbox.create`
 * reserves, `sandbox.extend` reserves more, runtime reports capture, stop/delete/expiry release.
 * Outstanding = reserved - captured while active. `version` takes a value of the ledger sequence
 * on every change, so a balance snapshot's version advances when only a hold moved.
 */
@Entity({ name: 'holds' })
@Index('uq_holds_org_sandbox', ['orgId', 'sandboxId'], { unique: true })
@Index('ix_holds_active_expiry', ['expiresAt'], { where: `status = 'active'` })
export class HoldEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'org_id', type: 'varchar', length: 30 })
  orgId: string;

  @Column({ name: 'sandbox_id', type: 'text' })
  sandboxId: string;

  @Column({ type: 'text' })
  shape: string;

  /** The shape's multiplier when the hold was placed: later price changes do not reprice it. */
  @Column({ name: 'price_per_hour', type: 'text' })
  pricePerHour: string;

  @Column({ name: 'admission_id', type: 'text', nullable: true })
  admissionId: string | null;

  /** Sandbox-ms reserved in total (create plus extensions). */
  @Column({ name: 'reserved_ms', type: 'bigint', transformer: bigintTransformer })
  reservedMs: bigint;

  /** Sandbox-ms captured by runtime reports (also debited from packages). */
  @Column({ name: 'captured_ms', type: 'bigint', transformer: bigintTransformer, default: 0 })
  capturedMs: bigint;

  /** Runtime cost beyond the hold: debited all the same, and flagged here. */
  @Column({ name: 'overrun_ms', type: 'bigint', transformer: bigintTransformer, default: 0 })
  overrunMs: bigint;

  /** False while only runtime reports have been seen (they can overtake the create event). */
  @Column({ type: 'boolean', default: true })
  placed: boolean;

  @Column({ type: 'text', default: 'active' })
  status: HoldStatus;

  @Column({ name: 'last_sequence', type: 'integer', default: -1 })
  lastSequence: number;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'released_at', type: 'timestamptz', nullable: true })
  releasedAt: Date | null;

  @Column({ type: 'bigint', default: 0 })
  version: string;
}
