import { CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * A revoked API key whose Redis copy may still say live: written in the revoke's transaction,
 * deleted once Redis holds the revocation (every auth instance retries it until then).
 */
@Entity({ name: 'pending_revocations' })
export class PendingRevocationEntity {
  @PrimaryColumn({ name: 'key_id', type: 'varchar', length: 32 })
  keyId: string;

  @PrimaryColumn({ name: 'org_id', type: 'varchar', length: 30 })
  orgId: string;

  @CreateDateColumn({ name: 'revoked_at', type: 'timestamptz' })
  revokedAt: Date;
}
