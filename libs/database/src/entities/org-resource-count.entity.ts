import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Counts of an organization's live resources, kept from verified create/delete actions. */
@Entity({ name: 'org_resource_counts' })
export class OrgResourceCountEntity {
  @PrimaryColumn({ name: 'org_id', type: 'varchar', length: 30 })
  orgId: string;

  @Column({ type: 'integer', default: 0 })
  sandboxes: number;

  @Column({ type: 'integer', default: 0 })
  projects: number;

  @Column({ name: 'mcp_servers', type: 'integer', default: 0 })
  mcpServers: number;
}
