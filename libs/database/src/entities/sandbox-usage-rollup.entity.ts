import { Entity, PrimaryColumn } from 'typeorm';
import { RollupCounters } from './rollup-counters';

/**
 * Hourly usage per organization × sandbox: the runtime reports of a sandbox and the verified
 * actions that name it. Upserted by each ledger batch beside `usage_rollups`, which counts every
 * event (so an organization's usage outside any sandbox is the difference of the two). The
 * primary key INCLUDEs the counters (set by the migration: TypeORM cannot express INCLUDE), so
 * the `/usage` series is an index-only scan.
 */
@Entity({ name: 'sandbox_usage_rollups' })
export class SandboxUsageRollupEntity extends RollupCounters {
  @PrimaryColumn({ name: 'org_id', type: 'varchar', length: 30 })
  orgId: string;

  @PrimaryColumn({ type: 'timestamptz' })
  hour: Date;

  @PrimaryColumn({ name: 'sandbox_id', type: 'text' })
  sandboxId: string;
}
