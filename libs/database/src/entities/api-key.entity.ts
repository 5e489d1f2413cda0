import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/** An API key. The secret is never stored: only an HMAC-SHA-256 of it under a server-side pepper. */
@Entity({ name: 'api_keys' })
@Index('ix_api_keys_org_creator', ['orgId', 'createdBy'])
export class ApiKeyEntity {
  /** The public lookup id embedded in the key. */
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id: string;

  @Column({ name: 'org_id', type: 'varchar', length: 30 })
  orgId: string;

  @Column({ name: 'created_by', type: 'text' })
  createdBy: string;

  @Column({ type: 'text' })
  name: string;

  /** What a listing shows, e.g. `lysk-0h4xk2…`: enough to recognise a key, useless to use it. */
  @Column({ name: 'display_prefix', type: 'text' })
  displayPrefix: string;

  @Column({ name: 'secret_hash', type: 'bytea' })
  secretHash: Buffer;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'revoked_by', type: 'text', nullable: true })
  revokedBy: string | null;
}
