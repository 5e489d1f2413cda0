import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

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

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
