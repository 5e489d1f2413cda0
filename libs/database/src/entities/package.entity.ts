import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintTransformer } from './bigint.transformer';

/**
 * A prepaid package (internally a credit grant) carrying both balances, in integer units:
 * sandbox-milliseconds and milli-credits. `*_remaining` is what burn-down has left.
 */
@Entity({ name: 'packages' })
@Index('uq_packages_org_external', ['orgId', 'externalId'], { unique: true })
export class PackageEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'org_id', type: 'varchar', length: 30 })
  orgId: string;

  @Column({ name: 'sandbox_ms_granted', type: 'bigint', transformer: bigintTransformer })
  sandboxMsGranted: bigint;

  @Column({ name: 'sandbox_ms_remaining', type: 'bigint', transformer: bigintTransformer })
  sandboxMsRemaining: bigint;

  @Column({ name: 'agent_mc_granted', type: 'bigint', transformer: bigintTransformer })
  agentMcGranted: bigint;

  @Column({ name: 'agent_mc_remaining', type: 'bigint', transformer: bigintTransformer })
  agentMcRemaining: bigint;

  @Column({ type: 'integer', default: 0 })
  priority: number;

  @Column({ name: 'not_before', type: 'timestamptz', nullable: true })
  notBefore: Date | null;

  @Column({ name: 'not_after', type: 'timestamptz', nullable: true })
  notAfter: Date | null;

  @Column({ name: 'granted_at', type: 'timestamptz', default: () => 'now()' })
  grantedAt: Date;

  @Column({ type: 'text' })
  source: string;

  @Column({ name: 'external_id', type: 'text', nullable: true })
  externalId: string | null;
}
