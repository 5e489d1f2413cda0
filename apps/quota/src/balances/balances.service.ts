import { Inject, Injectable } from '@nestjs/common';
import { msToHours, milliToCredits, orgIdSchema, TallyError } from '@tally/contracts';
import { DATA_SOURCE, loadOrgBalance } from '@tally/database';
import { BalanceCache, CachedBalance } from '@tally/redis';
import { DataSource } from 'typeorm';

export interface BalanceView {
  orgId: string;
  sandboxHours: string;
  agentCredits: string;
  sandboxMs: string;
  agentMilliCredits: string;
  /** Ledger position the answer reflects. */
  version: string;
  source: 'cache' | 'database';
}

/** Balances as admission sees them: Redis first; on a miss, PostgreSQL through the shared loader. */
@Injectable()
export class BalancesService {
  constructor(
    private readonly cache: BalanceCache,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  async read(orgId: string): Promise<BalanceView> {
    if (!orgIdSchema.safeParse(orgId).success) {
      throw new TallyError('INVALID_REQUEST', 'orgId must look like ORG-<ulid>.', { field: 'orgId' });
    }
    const cached = await this.cache.get(orgId);
    if (cached) return view(orgId, cached, 'cache');
    const loaded = await loadOrgBalance(this.dataSource, orgId, new Date());
    await this.cache.apply(orgId, loaded);
    return view(orgId, loaded, 'database');
  }
}

const view = (orgId: string, balance: CachedBalance, source: BalanceView['source']): BalanceView => ({
  orgId,
  sandboxHours: msToHours(balance.sandboxMs),
  agentCredits: milliToCredits(balance.agentMc),
  sandboxMs: balance.sandboxMs.toString(),
  agentMilliCredits: balance.agentMc.toString(),
  version: balance.version.toString(),
  source,
});
