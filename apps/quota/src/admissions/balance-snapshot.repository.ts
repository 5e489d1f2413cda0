import { Inject, Injectable } from '@nestjs/common';
import { DATA_SOURCE, loadOrgBalances, OrgBalance } from '@tally/database';
import { DataSource } from 'typeorm';

/** PostgreSQL's truth of an org's balances, for a cold Redis (metering's loader, same query). */
@Injectable()
export class BalanceSnapshotRepository {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  async load(orgId: string, at: Date): Promise<OrgBalance | undefined> {
    return (await loadOrgBalances(this.dataSource, [orgId], at)).get(orgId);
  }
}
