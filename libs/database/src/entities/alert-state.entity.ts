import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from './bigint.transformer';

/**
 * Depletion-alert state per organization and balance kind (metering's alert state machine):
 * which thresholds have fired since they were last re-armed, and whether the forecast alert has.
 * Written in the same transaction as the ledger posting that changed the balance.
 */
@Entity({ name: 'alert_states' })
export class AlertStateEntity {
  @PrimaryColumn({ name: 'org_id', type: 'varchar', length: 30 })
  orgId: string;

  @PrimaryColumn({ type: 'text' })
  kind: 'sandbox' | 'agent';

  /** Threshold percent (as a string) → `{fired, count}`; `count` names each firing's alert id. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  thresholds: Record<string, { fired: boolean; count: number }>;

  @Column({ name: 'forecast_fired', type: 'boolean', default: false })
  forecastFired: boolean;

  @Column({ name: 'forecast_count', type: 'integer', default: 0 })
  forecastCount: number;

  /** Remaining balance when the forecast fired: only a grant lifting it above re-arms it. */
  @Column({ name: 'forecast_remaining', type: 'bigint', transformer: bigintTransformer, nullable: true })
  forecastRemaining: bigint | null;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
