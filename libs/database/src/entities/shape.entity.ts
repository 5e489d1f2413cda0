import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A sandbox size. One wall-clock hour of shape S costs `S.pricePerHour` sandbox hours: the
 * multiplier is a decimal string, applied to integer milliseconds with one half-up rounding.
 * Data, not code: seeded by migration, changed by ops.
 */
@Entity({ name: 'shapes' })
export class ShapeEntity {
  @PrimaryColumn({ type: 'text' })
  name: string;

  @Column({ name: 'price_per_hour', type: 'text' })
  pricePerHour: string;

  @Column({ name: 'required_plan_tier', type: 'integer', default: 0 })
  requiredPlanTier: number;

  @Column({ type: 'text', default: '' })
  description: string;
}
