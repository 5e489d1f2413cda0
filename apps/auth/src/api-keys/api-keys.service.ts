import { Inject, Injectable } from '@nestjs/common';
import { generateApiKey, hashKeySecret } from '@tally/contracts';
import { ApiKeyEntity, DATA_SOURCE } from '@tally/database';
import { timingSafeEqual } from 'node:crypto';
import { DataSource, Repository } from 'typeorm';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';

export type KeyCheck =
  { status: 'valid'; key: ApiKeyEntity } | { status: 'unknown' } | { status: 'revoked'; key: ApiKeyEntity };

@Injectable()
export class ApiKeysService {
  private readonly keys: Repository<ApiKeyEntity>;

  constructor(
    @Inject(DATA_SOURCE) dataSource: DataSource,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
  ) {
    this.keys = dataSource.getRepository(ApiKeyEntity);
  }

  /** Creates a key and returns its plaintext: the only time it exists outside the caller. */
  async issue(
    orgId: string,
    userId: string,
    name: string,
  ): Promise<{ id: string; key: string; displayPrefix: string }> {
    const issued = generateApiKey(this.config.API_KEY_PREFIX);
    await this.keys.insert({
      id: issued.lookupId,
      orgId,
      createdBy: userId,
      name,
      displayPrefix: issued.displayPrefix,
      secretHash: hashKeySecret(this.config.API_KEY_PEPPER, issued.secret),
    });
    return { id: issued.lookupId, key: issued.plaintext, displayPrefix: issued.displayPrefix };
  }

  /** Looks the key up by its public id and compares the secret's HMAC in constant time. */
  async check(lookupId: string, secret: string): Promise<KeyCheck> {
    const key = await this.keys.findOneBy({ id: lookupId });
    if (!key) return { status: 'unknown' };
    const presented = hashKeySecret(this.config.API_KEY_PEPPER, secret);
    if (!timingSafeEqual(presented, key.secretHash)) return { status: 'unknown' };
    return key.revokedAt ? { status: 'revoked', key } : { status: 'valid', key };
  }
}
