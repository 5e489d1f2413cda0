import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintTransformer } from './bigint.transformer';

export type OrgStatus = 'active' | 'suspended';

@Entity({ name: 'organizations' })
export class OrganizationEntity {
  /** `ORG-<ulid>` */
  @PrimaryColumn({ type: 'varchar', length: 30 })
  id: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text', default: 'free' })
  plan: string;

  /** suspended: every verify answers 403 ORG_SUSPENDED until resumed (docs/ORGANIZATIONS.md). */
  @Column({ type: 'varchar', length: 20, default: 'active' })
  status: OrgStatus;

  @Column({ name: 'suspended_reason', type: 'text', nullable: true })
  suspendedReason: string | null;

  /** Bumped by every change: caches (Redis, auth, quota) keep the newest version they saw. */
  @Column({ type: 'integer', default: 1 })
  version: number;

  /** Balance alert thresholds of this org (percent consumed, ascending); null: metering's ALERT_THRESHOLDS. */
  @Column({ name: 'alert_thresholds', type: 'integer', array: true, nullable: true })
  alertThresholds: number[] | null;

  /**
   * How far below zero the org's agent credits may go at admission (milli-credits, default 0): an
   * agent.run is admitted while remaining credits - uncovered overage + this limit covers its fixed
   * cost. Set by ops (`PUT /v1/orgs/:orgId/overdraft`), carried in the Redis balance.
   */
  @Column({ name: 'agent_overdraft_mc', type: 'bigint', transformer: bigintTransformer, default: 0 })
  agentOverdraftMc: bigint;

  /** A ledger sequence value drawn when the overdraft changed: the balance snapshot's version moves with it. */
  @Column({ name: 'overdraft_version', type: 'bigint', default: 0 })
  overdraftVersion: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
