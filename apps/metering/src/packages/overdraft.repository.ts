import { EntityManager } from 'typeorm';
import { LEDGER_SEQUENCE } from '../ledger/ledger.repository';

type Queryable = Pick<EntityManager, 'query'>;

/** An organization's agent overdraft limit (organizations.agent_overdraft_mc), in milli-credits. */
export class OverdraftRepository {
  constructor(private readonly db: Queryable) {}

  /** Sets the limit with a new ledger-sequence version, so the org's balance snapshot moves with it (under the org lock). */
  async set(orgId: string, mc: bigint): Promise<void> {
    await this.db.query(
      `UPDATE organizations SET agent_overdraft_mc = $2, overdraft_version = nextval('${LEDGER_SEQUENCE}') WHERE id = $1`,
      [orgId, mc.toString()],
    );
  }

  /** The limit, or null when the organization does not exist. */
  async get(orgId: string): Promise<bigint | null> {
    const [row]: { mc: string }[] = await this.db.query(
      'SELECT agent_overdraft_mc::text AS mc FROM organizations WHERE id = $1',
      [orgId],
    );
    return row ? BigInt(row.mc) : null;
  }
}
