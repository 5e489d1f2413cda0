import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** The per-endpoint delivery log: every HTTP attempt with its outcome. */
@Entity({ name: 'webhook_attempts' })
@Index('ix_webhook_attempts_endpoint', ['endpointId', 'id'])
export class WebhookAttemptEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ name: 'endpoint_id', type: 'uuid' })
  endpointId: string;

  @Column({ name: 'delivery_id', type: 'bigint' })
  deliveryId: string;

  @Column({ name: 'alert_id', type: 'text' })
  alertId: string;

  @Column({ type: 'integer' })
  attempt: number;

  /** The receiver's HTTP status; null when no answer came (refused, timeout). */
  @Column({ name: 'http_status', type: 'integer', nullable: true })
  httpStatus: number | null;

  @Column({ type: 'boolean' })
  ok: boolean;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ name: 'duration_ms', type: 'integer' })
  durationMs: number;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  at: Date;
}
