import { Entity, PrimaryColumn } from 'typeorm';
import { RollupCounters } from './rollup-counters';

/**
 * Hourly usage per organization × key × action × shape × kind (empty string where a dimension
 * does not apply, so the primary key stays total). Upserted by each ledger batch. The primary
 * key INCLUDEs the counters (set by a migration: TypeORM cannot express INCLUDE), so the `/usage`
 * series is an index-only scan.
 */
@Entity({ name: 'usage_rollups' })
export class UsageRollupEntity extends RollupCounters {
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
}
