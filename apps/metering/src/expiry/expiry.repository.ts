import { Inject, Injectable } from '@nestjs/common';
import { DATA_SOURCE, pgArrayLiteral } from '@tally/database';
import { DataSource, EntityManager } from 'typeorm';
import { LEDGER_SEQUENCE } from '../ledger/ledger.repository';

/** A package whose remainder expiry forfeits. */
export interface ExpiredPackage {
  id: string;
  orgId: string;
  sandboxMs: bigint;
  agentMc: bigint;
}

/** The expiry round's SQL: what is due (outside any transaction), then, under the org lock, the round's writes. */
@Injectable()
export class ExpiryRepository {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  /**
   * Orgs with a package to forfeit (`notAfter` at or before `forfeitBefore`, something left) or
   * an active hold past its end (`expires_at` at or before `now`), at most `limit`.
   */
  async due(forfeitBefore: Date, now: Date, limit: number): Promise<string[]> {
    const rows: { org_id: string }[] = await this.dataSource.query(
      `SELECT org_id FROM packages
        WHERE not_after <= $1 AND (sandbox_ms_remaining > 0 OR agent_mc_remaining > 0)
       UNION
       SELECT org_id FROM holds WHERE status = 'active' AND expires_at <= $2
       LIMIT $3`,
      [forfeitBefore, now, limit],
    );
    return rows.map((row) => row.org_id).sort();
  }

  /** In the round's transaction (its orgs locked). */
  in(tx: EntityManager): ExpiryWrites {
    return new ExpiryWrites(tx);
  }
}

export class ExpiryWrites {
  constructor(private readonly tx: EntityManager) {}

  /** The orgs' packages to forfeit, locked, their remainders zeroed; what each had left. */
  async forfeitPackages(orgIds: string[], forfeitBefore: Date): Promise<ExpiredPackage[]> {
    const rows: { id: string; org_id: string; sandbox_ms_remaining: string; agent_mc_remaining: string }[] =
      await this.tx.query(
        // A top-level SELECT: TypeORM answers an UPDATE with [rows, count], a SELECT with its rows.
        `WITH due AS (
           SELECT id, sandbox_ms_remaining, agent_mc_remaining FROM packages
            WHERE org_id = ANY($1::varchar[]) AND not_after <= $2
              AND (sandbox_ms_remaining > 0 OR agent_mc_remaining > 0)
            ORDER BY id FOR UPDATE),
         zeroed AS (
           UPDATE packages p SET sandbox_ms_remaining = 0, agent_mc_remaining = 0
             FROM due WHERE p.id = due.id
           RETURNING p.id, p.org_id, due.sandbox_ms_remaining, due.agent_mc_remaining)
         SELECT id, org_id, sandbox_ms_remaining::text AS sandbox_ms_remaining,
                agent_mc_remaining::text AS agent_mc_remaining
           FROM zeroed ORDER BY id`,
        [pgArrayLiteral(orgIds), forfeitBefore],
      );
    return rows.map((row) => ({
      id: row.id,
      orgId: row.org_id,
      sandboxMs: BigInt(row.sandbox_ms_remaining),
      agentMc: BigInt(row.agent_mc_remaining),
    }));
  }

  /** Releases the orgs' active holds past their end (each takes a new ledger-sequence version); how many. */
  async expireHolds(orgIds: string[], now: Date): Promise<number> {
    const [row]: { n: number }[] = await this.tx.query(
      `WITH released AS (
         UPDATE holds SET status = 'expired', released_at = $2, version = nextval('${LEDGER_SEQUENCE}')
          WHERE org_id = ANY($1::varchar[]) AND status = 'active' AND expires_at <= $2 RETURNING id)
       SELECT COUNT(*)::int AS n FROM released`,
      [pgArrayLiteral(orgIds), now],
    );
    return row.n;
  }
}
