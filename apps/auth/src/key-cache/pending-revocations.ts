import { Inject, Injectable } from '@nestjs/common';
import { ApiKeyEntity, DATA_SOURCE, PendingRevocationEntity } from '@tally/database';
import { DataSource, EntityManager } from 'typeorm';
import type { CachedKey } from './key-cache.service';

/**
 * Revocations whose Redis overwrite has not landed (`pending_revocations`): a row is written in
 * the revoke's transaction and deleted once Redis holds the revocation, so a revoke whose Redis
 * write failed is retried by every instance, whichever stops or crashes. One query a method.
 */
@Injectable()
export class PendingRevocations {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  /** In the revoke's transaction: durable with the revocation itself. */
  async add(manager: EntityManager, orgId: string, keyId: string): Promise<void> {
    await manager
      .createQueryBuilder()
      .insert()
      .into(PendingRevocationEntity)
      .values({ orgId, keyId })
      .orIgnore()
      .execute();
  }

  /** The oldest pending revocations, as the Redis copy of their key must read. */
  async oldest(limit: number): Promise<CachedKey[]> {
    const rows = await this.dataSource
      .getRepository(ApiKeyEntity)
      .createQueryBuilder('key')
      .innerJoin(PendingRevocationEntity, 'pending', 'pending.key_id = key.id AND pending.org_id = key.org_id')
      .orderBy('pending.revoked_at')
      .limit(limit)
      .getMany();
    return rows.map((row) => ({
      id: row.id,
      orgId: row.orgId,
      createdBy: row.createdBy,
      secretHash: row.secretHash,
      revoked: true,
    }));
  }

  /** Redis holds the revocation of `keyId`. */
  async done(orgId: string, keyId: string): Promise<void> {
    await this.dataSource.getRepository(PendingRevocationEntity).delete({ orgId, keyId });
  }
}
