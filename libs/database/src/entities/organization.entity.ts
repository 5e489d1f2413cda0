import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'organizations' })
export class OrganizationEntity {
  /** `ORG-<ulid>` */
  @PrimaryColumn({ type: 'varchar', length: 30 })
  id: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text', default: 'free' })
  plan: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
