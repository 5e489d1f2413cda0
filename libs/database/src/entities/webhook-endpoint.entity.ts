import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Where alerts are delivered: an organization's endpoint, or an ops endpoint (`orgId` null) that
 * receives every organization's alerts. The secret signs each delivery (HMAC-SHA256), so it is
 * kept (it is not a credential of ours to verify, it is the receiver's shared key).
 */
@Entity({ name: 'webhook_endpoints' })
@Index('ix_webhook_endpoints_org', ['orgId'])
export class WebhookEndpointEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'org_id', type: 'varchar', length: 30, nullable: true })
  orgId: string | null;

  @Column({ type: 'text' })
  url: string;

  @Column({ type: 'text' })
  secret: string;

  /** `active`, or `dead` once it kept failing (no more deliveries are attempted). */
  @Column({ type: 'text', default: 'active' })
  status: 'active' | 'dead';

  @Column({ name: 'consecutive_failures', type: 'integer', default: 0 })
  consecutiveFailures: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
