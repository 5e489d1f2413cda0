import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One alert to deliver to one endpoint (unique: a redelivered alert is delivered once), with its
 * retry schedule. Each HTTP attempt is logged in `webhook_attempts`.
 */
@Entity({ name: 'webhook_deliveries' })
@Index('uq_webhook_deliveries_endpoint_alert', ['endpointId', 'alertId'], { unique: true })
@Index('ix_webhook_deliveries_due', ['status', 'nextAttemptAt'])
export class WebhookDeliveryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ name: 'endpoint_id', type: 'uuid' })
  endpointId: string;

  @Column({ name: 'alert_id', type: 'text' })
  alertId: string;

  @Column({ type: 'jsonb' })
  payload: unknown;

  /** `pending` → `delivered`, or `failed` (attempts exhausted), or `abandoned` (endpoint dead). */
  @Column({ type: 'text', default: 'pending' })
  status: 'pending' | 'delivered' | 'failed' | 'abandoned';

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Column({ name: 'next_attempt_at', type: 'timestamptz', default: () => 'now()' })
  nextAttemptAt: Date;

  @Column({ name: 'delivered_at', type: 'timestamptz', nullable: true })
  deliveredAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
