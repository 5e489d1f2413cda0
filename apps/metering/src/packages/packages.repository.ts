import { Inject, Injectable } from '@nestjs/common';
import { DATA_SOURCE } from '@tally/database';
import { DataSource, EntityManager } from 'typeorm';

export interface PackageRow {
  id: string;
  org_id: string;
  sandbox_ms_granted: string;
  sandbox_ms_remaining: string;
  agent_mc_granted: string;
  agent_mc_remaining: string;
  priority: number;
  not_before: Date | null;
  not_after: Date | null;
  granted_at: Date;
  source: string;
  external_id: string;
}

/** A package to grant, in integer units. */
export interface NewPackage {
  orgId: string;
  sandboxMs: bigint;
  agentMc: bigint;
  priority: number;
  notBefore: Date | null;
  notAfter: Date | null;
  source: string;
  externalId: string;
}

const COLUMNS = `id, org_id, sandbox_ms_granted, sandbox_ms_remaining, agent_mc_granted, agent_mc_remaining, priority,
                 not_before, not_after, granted_at, source, external_id`;

/** The packages' SQL: reads over the pool, the grant in the ledger's transaction (`in(tx)`). */
@Injectable()
export class PackagesRepository {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  async orgExists(orgId: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query('SELECT 1 FROM organizations WHERE id = $1', [orgId]);
    return rows.length > 0;
  }

  /** An org's packages in consumption order (docs/ARCHITECTURE.md §1). */
  list(orgId: string): Promise<PackageRow[]> {
    return this.dataSource.query(
      `SELECT ${COLUMNS} FROM packages WHERE org_id = $1
        ORDER BY priority DESC, not_after ASC NULLS LAST, granted_at ASC, id ASC`,
      [orgId],
    );
  }

  in(tx: EntityManager): PackageWrites {
    return new PackageWrites(tx);
  }
}

export class PackageWrites {
  constructor(private readonly tx: EntityManager) {}

  /** Inserts the package unless its (org, externalId) exists; null then. */
  async insert(pkg: NewPackage): Promise<PackageRow | null> {
    const inserted: PackageRow[] = await this.tx.query(
      `INSERT INTO packages (org_id, sandbox_ms_granted, sandbox_ms_remaining, agent_mc_granted, agent_mc_remaining,
                             priority, not_before, not_after, source, external_id)
       VALUES ($1, $2, $2, $3, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (org_id, external_id) DO NOTHING RETURNING ${COLUMNS}`,
      [
        pkg.orgId,
        pkg.sandboxMs.toString(),
        pkg.agentMc.toString(),
        pkg.priority,
        pkg.notBefore,
        pkg.notAfter,
        pkg.source,
        pkg.externalId,
      ],
    );
    return inserted[0] ?? null;
  }

  async byExternalId(orgId: string, externalId: string): Promise<PackageRow> {
    const [existing]: PackageRow[] = await this.tx.query(
      `SELECT ${COLUMNS} FROM packages WHERE org_id = $1 AND external_id = $2`,
      [orgId, externalId],
    );
    return existing;
  }
}
