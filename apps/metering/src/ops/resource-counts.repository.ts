import { EntityManager } from 'typeorm';

/** Changes to an organization's resource counts, as the platform's /stats reads them. */
export interface ResourceCountDelta {
  sandboxes: number;
  projects: number;
  mcp_servers: number;
}

/** `org_resource_counts`, inside the posting's transaction (the org rows are locked by it). */
export class ResourceCountsRepository {
  constructor(private readonly tx: EntityManager) {}

  /** Adds each org's deltas; a count never goes below zero (a delete seen without its create). */
  async add(deltas: Map<string, ResourceCountDelta>): Promise<void> {
    if (deltas.size === 0) return;
    const rows = [...deltas];
    await this.tx.query(
      `INSERT INTO org_resource_counts (org_id, sandboxes, projects, mcp_servers)
       SELECT v.org_id, GREATEST(COALESCE(c.sandboxes, 0) + v.s, 0), GREATEST(COALESCE(c.projects, 0) + v.p, 0),
              GREATEST(COALESCE(c.mcp_servers, 0) + v.m, 0)
         FROM unnest($1::varchar[], $2::int[], $3::int[], $4::int[]) AS v(org_id, s, p, m)
         LEFT JOIN org_resource_counts c ON c.org_id = v.org_id
       ON CONFLICT (org_id) DO UPDATE SET
         sandboxes = excluded.sandboxes, projects = excluded.projects, mcp_servers = excluded.mcp_servers`,
      [
        rows.map(([orgId]) => orgId),
        rows.map(([, r]) => r.sandboxes),
        rows.map(([, r]) => r.projects),
        rows.map(([, r]) => r.mcp_servers),
      ],
    );
  }
}
