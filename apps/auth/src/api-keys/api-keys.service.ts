import { Inject, Injectable, Logger } from '@nestjs/common';
import { Errors, generateApiKey, hashKeySecret } from '@tally/contracts';
import { ApiKeyAuditEntity, ApiKeyEntity, DATA_SOURCE } from '@tally/database';
import { DataSource, IsNull, Repository } from 'typeorm';
import { ulid } from 'ulid';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';
import { DashboardUser, Role } from '../dashboard-auth/jwt-verifier';
import { KeyCacheService } from '../key-cache/key-cache.service';
import { PendingRevocations } from '../key-cache/pending-revocations';
import { decide } from '../permissions/permission-matrix';
import { ApiKeyListDto, ApiKeySummaryDto, CreatedApiKeyDto } from './dto/api-key.dto';

/** Where a management call came from, for the audit trail. */
export interface RequestOrigin {
  sourceAddress: string | null;
  userAgent: string | null;
  requestId: string | null;
}

const summary = (key: ApiKeyEntity): ApiKeySummaryDto => ({
  id: key.id,
  name: key.name,
  displayPrefix: key.displayPrefix,
  createdBy: key.createdBy,
  createdAt: key.createdAt.toISOString(),
  lastUsedAt: key.lastUsedAt ? key.lastUsedAt.toISOString() : null,
});

/**
 * Key management for dashboard users. A user sees and revokes their own keys; owners and admins
 * may list and revoke every key of the org (audited); members may not create keys. An org the
 * user does not belong to, and a key of another org, are NOT_FOUND (no existence leak).
 */
@Injectable()
export class ApiKeysService {
  private readonly logger = new Logger(ApiKeysService.name);
  private readonly keys: Repository<ApiKeyEntity>;

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    private readonly cache: KeyCacheService,
    private readonly pendingRevocations: PendingRevocations,
  ) {
    this.keys = dataSource.getRepository(ApiKeyEntity);
  }

  private roleIn(user: DashboardUser, orgId: string): Role {
    const role = user.memberships.get(orgId);
    if (!role) throw Errors.orgNotFound();
    return role;
  }

  private require(role: Role, action: 'api_key.create' | 'api_key.list' | 'api_key.delete'): void {
    const decision = decide({ kind: 'user', role }, action);
    if (!decision.allowed) throw Errors.decided(decision.code, decision.reason);
  }

  /** Creates a key and returns its plaintext: the only time it exists outside the caller. */
  async create(user: DashboardUser, orgId: string, name: string, origin: RequestOrigin): Promise<CreatedApiKeyDto> {
    const role = this.roleIn(user, orgId);
    this.require(role, 'api_key.create');
    const issued = generateApiKey(this.config.API_KEY_PREFIX);
    const createdAt = new Date();
    const secretHash = hashKeySecret(this.config.API_KEY_PEPPER, issued.secret);
    await this.dataSource.transaction(async (manager) => {
      await manager.insert(ApiKeyEntity, {
        id: issued.lookupId,
        orgId,
        createdBy: user.userId,
        name,
        displayPrefix: issued.displayPrefix,
        secretHash,
        createdAt,
      });
      await manager.insert(ApiKeyAuditEntity, {
        id: ulid(),
        orgId,
        keyId: issued.lookupId,
        action: 'create',
        actorUserId: user.userId,
        actorRole: role,
        keyOwnerId: user.userId,
        ...origin,
      });
    });
    await this.cache.remember({ id: issued.lookupId, orgId, createdBy: user.userId, secretHash, revoked: false });
    return {
      id: issued.lookupId,
      key: issued.plaintext,
      name,
      displayPrefix: issued.displayPrefix,
      createdBy: user.userId,
      createdAt: createdAt.toISOString(),
      lastUsedAt: null,
    };
  }

  /** The caller's own live keys; with scope `org`, every live key of the org (owners and admins). */
  async list(user: DashboardUser, orgId: string, scope: 'mine' | 'org'): Promise<ApiKeyListDto> {
    const role = this.roleIn(user, orgId);
    // Everyone lists their own keys; the org's keys need api_key.list (owners and admins).
    if (scope === 'org') this.require(role, 'api_key.list');
    const rows = await this.keys.find({
      where: { orgId, revokedAt: IsNull(), ...(scope === 'mine' ? { createdBy: user.userId } : {}) },
      order: { createdAt: 'DESC' },
      take: 1_000,
    });
    return { items: rows.map(summary) };
  }

  /**
   * Revokes a key: durable in PostgreSQL with its audit row and its pending Redis overwrite in one
   * transaction, then broadcast to every auth instance. Revoking an already revoked key changes
   * nothing and is not audited again.
   */
  async revoke(user: DashboardUser, orgId: string, keyId: string, origin: RequestOrigin): Promise<void> {
    const role = this.roleIn(user, orgId);
    // Everyone revokes their own keys; another user's needs api_key.delete, else it does not exist.
    const mayRevokeOthers = decide({ kind: 'user', role }, 'api_key.delete').allowed;
    const revoked = await this.dataSource.transaction(async (manager) => {
      const key = await manager.findOne(ApiKeyEntity, {
        where: { id: keyId, orgId },
        lock: { mode: 'pessimistic_write' },
      });
      if (!key || (key.createdBy !== user.userId && !mayRevokeOthers)) {
        throw Errors.apiKeyNotFound();
      }
      if (key.revokedAt) return key;
      key.revokedAt = new Date();
      key.revokedBy = user.userId;
      await manager.update(ApiKeyEntity, { id: key.id }, { revokedAt: key.revokedAt, revokedBy: user.userId });
      await this.pendingRevocations.add(manager, orgId, key.id);
      await manager.insert(ApiKeyAuditEntity, {
        id: ulid(),
        orgId,
        keyId: key.id,
        action: 'revoke',
        actorUserId: user.userId,
        actorRole: role,
        keyOwnerId: key.createdBy,
        ...origin,
      });
      return key;
    });
    const broadcast = await this.cache.broadcastRevoked({
      id: revoked.id,
      orgId: revoked.orgId,
      createdBy: revoked.createdBy,
      secretHash: revoked.secretHash,
      revoked: true,
    });
    // Durable in PostgreSQL; every instance retries the Redis overwrite from pending_revocations.
    if (!broadcast) this.logger.error({ keyId }, 'revocation stored; its Redis overwrite is being retried');
  }
}
