import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Append-only trail of API key management: who created or revoked which key, when and from
 * where. Revocations of another user's key by an owner or admin are the reason it exists.
 */
@Entity({ name: 'api_key_audit' })
@Index('ix_api_key_audit_org_time', ['orgId', 'occurredAt'])
@Index('ix_api_key_audit_key', ['keyId'])
export class ApiKeyAuditEntity {
  /** A ULID: sortable by time. */
  @PrimaryColumn({ type: 'varchar', length: 26 })
  id: string;

  @Column({ name: 'org_id', type: 'varchar', length: 30 })
  orgId: string;

  @Column({ name: 'key_id', type: 'varchar', length: 32 })
  keyId: string;

  /** `create` or `revoke`. */
  @Column({ type: 'varchar', length: 16 })
  action: string;

  /** The dashboard user who did it (JWT `sub`). */
  @Column({ name: 'actor_user_id', type: 'text' })
  actorUserId: string;

  /** Their role in the organization at that moment. */
  @Column({ name: 'actor_role', type: 'varchar', length: 16 })
  actorRole: string;

  /** The key's creator, so "revoked someone else's key" is visible without a join. */
  @Column({ name: 'key_owner_id', type: 'text' })
  keyOwnerId: string;

  @Column({ name: 'source_address', type: 'text', nullable: true })
  sourceAddress: string | null;

  @Column({ name: 'user_agent', type: 'text', nullable: true })
  userAgent: string | null;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId: string | null;

  @CreateDateColumn({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt: Date;
}
