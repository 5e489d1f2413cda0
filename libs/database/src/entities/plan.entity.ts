import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from './bigint.transformer';

/** A plan (docs/ARCHITECTURE.md §1): tier, concurrency quota and monthly allowances in integer units. */
@Entity({ name: 'plans' })
export class PlanEntity {
  @PrimaryColumn({ type: 'text' })
  name: string;

  @Column({ type: 'integer' })
  tier: number;

  @Column({ name: 'concurrent_sandboxes', type: 'integer' })
  concurrentSandboxes: number;

  @Column({ name: 'sandbox_ms_included_per_month', type: 'bigint', transformer: bigintTransformer })
  sandboxMsIncludedPerMonth: bigint;

  @Column({ name: 'agent_mc_included_per_month', type: 'bigint', transformer: bigintTransformer })
  agentMcIncludedPerMonth: bigint;
}
