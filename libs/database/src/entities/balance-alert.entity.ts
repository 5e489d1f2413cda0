import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/** Every depletion alert metering raised (the outbox row is deleted once relayed; this stays). */
@Entity({ name: 'balance_alerts' })
@Index('ix_balance_alerts_org_created', ['orgId', 'createdAt'])
export class BalanceAlertEntity {
  /** The CloudEvent id of the alert. */
  @PrimaryColumn({ type: 'text' })
  id: string;

  @Column({ name: 'org_id', type: 'varchar', length: 30 })
  orgId: string;

  @Column({ type: 'text' })
  kind: 'sandbox' | 'agent';

  /** `balance.threshold` or `balance.forecast`. */
  @Column({ type: 'text' })
  type: string;

  @Column({ type: 'text', nullable: true })
  threshold: string | null;

  @Column({ type: 'jsonb' })
  payload: unknown;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
