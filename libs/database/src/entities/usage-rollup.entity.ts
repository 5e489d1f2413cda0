import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from './bigint.transformer';

/**
 * Hourly usage per organization × key × action × shape × kind (empty string where a dimension
 * does not apply, so the primary key stays total). Upserted by each ledger batch.
 */
@Entity({ name: 'usage_rollups' })
export class UsageRollupEntity {
  @PrimaryColumn({ name: 'org_id', type: 'varchar', length: 30 })
  orgId: string;

  @PrimaryColumn({ type: 'timestamptz' })
  hour: Date;

  @PrimaryColumn({ name: 'key_id', type: 'text' })
  keyId: string;

  @PrimaryColumn({ type: 'text' })
  action: string;

  @PrimaryColumn({ type: 'text' })
  shape: string;

  /** `action` (a verified action), `sandbox_runtime`, or an agent usage kind. */
  @PrimaryColumn({ type: 'text' })
  kind: string;

  @Column({ name: 'event_count', type: 'bigint', transformer: bigintTransformer, default: 0 })
  eventCount: bigint;

  @Column({ name: 'sandbox_ms', type: 'bigint', transformer: bigintTransformer, default: 0 })
  sandboxMs: bigint;

  @Column({ name: 'agent_mc', type: 'bigint', transformer: bigintTransformer, default: 0 })
  agentMc: bigint;
}
