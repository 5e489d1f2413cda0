import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * An organization whose Redis balance must be rewritten from PostgreSQL: written in the same
 * transaction as the grant or expiry that changed the balance, deleted once Redis has it, and
 * retried until then by metering's BalanceRefresher (docs/TIME.md). One row per org: a request
 * made while one is pending bumps its `generation`, so only a refresh that read the balance after
 * the newest request may delete the row.
 */
@Entity({ name: 'balance_refreshes' })
export class BalanceRefreshEntity {
  @PrimaryColumn({ name: 'org_id', type: 'varchar', length: 30 })
  orgId: string;

  @Column({ type: 'bigint', default: 1 })
  generation: string;

  /** The oldest request not yet written to Redis. */
  @Column({ name: 'requested_at', type: 'timestamptz', default: () => 'now()' })
  requestedAt: Date;

  /** Failed refreshes since the request. */
  @Column({ type: 'integer', default: 0 })
  attempts: number;
}
