import { Entity, PrimaryColumn } from 'typeorm';

/**
 * Every runtime report metering has applied, by (org, sandbox, sequence), forever: a report
 * re-sent under a new CloudEvents id is the same report (processed_events dedupes by source and id).
 */
@Entity({ name: 'sandbox_report_sequences' })
export class SandboxReportSequenceEntity {
  @PrimaryColumn({ name: 'org_id', type: 'varchar', length: 30 })
  orgId: string;

  @PrimaryColumn({ name: 'sandbox_id', type: 'text' })
  sandboxId: string;

  @PrimaryColumn({ type: 'integer' })
  sequence: number;
}
