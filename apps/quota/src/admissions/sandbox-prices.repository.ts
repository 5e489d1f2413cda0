import { Inject, Injectable } from '@nestjs/common';
import { DATA_SOURCE } from '@tally/database';
import { AdmissionCache, ProvisionalSandbox } from '@tally/redis';
import { DataSource } from 'typeorm';

/**
 * What a running sandbox costs per hour, as metering holds it: the durable hold's shape and price
 * (PostgreSQL, the truth), else the create quota admitted within the hold TTL (Redis; metering
 * has not placed the hold yet). A sandbox.extend is reserved at that price, never the caller's.
 */
@Injectable()
export class SandboxPricesRepository {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    private readonly admissions: AdmissionCache,
  ) {}

  /** null: no such sandbox in the org, or it is no longer running (stopped, deleted, expired). */
  async running(orgId: string, sandboxId: string): Promise<ProvisionalSandbox | null> {
    const [hold]: { shape: string; price_per_hour: string; status: string }[] = await this.dataSource.query(
      'SELECT shape, price_per_hour, status FROM holds WHERE org_id = $1 AND sandbox_id = $2',
      [orgId, sandboxId],
    );
    if (hold)
      return hold.status === 'active' ? { id: sandboxId, shape: hold.shape, pricePerHour: hold.price_per_hour } : null;
    return this.admissions.provisionalSandbox(orgId, sandboxId);
  }
}
