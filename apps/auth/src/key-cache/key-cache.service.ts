import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Errors } from '@tally/contracts';
import { ApiKeyEntity, DATA_SOURCE } from '@tally/database';
import { METRICS_REGISTRY } from '@tally/platform';
import { createSubscriber, REDIS, type RedisClient } from '@tally/redis';
import { Counter, Registry } from 'prom-client';
import { DataSource, Repository } from 'typeorm';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';

/** What verify needs to know about a key. Never the secret: only its HMAC. */
export interface CachedKey {
  id: string;
  orgId: string;
  createdBy: string;
  secretHash: Buffer;
  revoked: boolean;
}

/**
 * Redis layout (all under REDIS_KEY_PREFIX):
 *   auth:key:<lookupId>   string  JSON {id, orgId, createdBy, hash (hex HMAC), revoked}, TTL
 *   auth:key-revoked      pub/sub channel carrying revoked lookup ids
 */
export const keyCacheKey = (prefix: string, id: string) => `${prefix}auth:key:${id}`;
export const revocationChannel = (prefix: string) => `${prefix}auth:key-revoked`;

function encode(key: CachedKey): string {
  return JSON.stringify({
    id: key.id,
    orgId: key.orgId,
    createdBy: key.createdBy,
    hash: key.secretHash.toString('hex'),
    revoked: key.revoked,
  });
}

function decode(raw: string): CachedKey | undefined {
  try {
    const value = JSON.parse(raw) as { id: string; orgId: string; createdBy: string; hash: string; revoked: boolean };
    return { ...value, secretHash: Buffer.from(value.hash, 'hex') };
  } catch {
    return undefined;
  }
}

const fromRow = (row: ApiKeyEntity): CachedKey => ({
  id: row.id,
  orgId: row.orgId,
  createdBy: row.createdBy,
  secretHash: row.secretHash,
  revoked: row.revokedAt !== null,
});

/**
 * Key lookups for verify: in process (a short TTL, the safety net), then Redis, then PostgreSQL.
 * A revocation overwrites the Redis entry and is broadcast over pub/sub; every instance drops
 * its copy on receipt, so a revoke is seen everywhere within milliseconds, and within the local
 * TTL even if a broadcast is lost (the subscriber also clears everything on reconnect).
 */
@Injectable()
export class KeyCacheService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(KeyCacheService.name);
  private readonly local = new Map<string, { value: CachedKey | null; expiresAt: number }>();
  private readonly inflight = new Map<string, Promise<CachedKey | null>>();
  private readonly keys: Repository<ApiKeyEntity>;
  private readonly lookups: Counter<'source'>;
  private subscriber?: RedisClient;
  /** Bumped by every invalidation: a lookup that began before it must not repopulate the cache. */
  private epoch = 0;

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(DATA_SOURCE) dataSource: DataSource,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.keys = dataSource.getRepository(ApiKeyEntity);
    this.lookups = new Counter({
      name: 'auth_key_lookups_total',
      help: 'API key lookups by where they were answered (local, redis, postgres)',
      labelNames: ['source'],
      registers: [registry],
    });
  }

  async onModuleInit(): Promise<void> {
    const subscriber = createSubscriber(this.redis);
    this.subscriber = subscriber;
    let first = true;
    subscriber.on('ready', () => {
      // Broadcasts sent while disconnected are lost: forget everything rather than trust it.
      if (!first) this.invalidateAll();
      first = false;
    });
    subscriber.on('error', (error) => this.logger.warn({ err: error }, 'revocation subscriber error'));
    subscriber.on('message', (_channel: string, id: string) => this.invalidate(id));
    await subscriber.subscribe(revocationChannel(this.config.REDIS_KEY_PREFIX));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }

  lookupCounts(): Counter<'source'> {
    return this.lookups;
  }

  /** The key as this instance holds it now, without I/O; undefined when not cached (or cached as absent). */
  peek(id: string): CachedKey | undefined {
    const hit = this.local.get(id);
    if (!hit || hit.expiresAt <= Date.now() || !hit.value) return undefined;
    this.lookups.inc({ source: 'local' });
    return hit.value;
  }

  /** The key with this lookup id, or null if there is none. */
  get(id: string): Promise<CachedKey | null> {
    const hit = this.local.get(id);
    if (hit && hit.expiresAt > Date.now()) {
      this.lookups.inc({ source: 'local' });
      return Promise.resolve(hit.value);
    }
    let pending = this.inflight.get(id);
    if (!pending) {
      pending = this.load(id).finally(() => this.inflight.delete(id));
      this.inflight.set(id, pending);
    }
    return pending;
  }

  /** After the revocation is durable in PostgreSQL: overwrite the Redis copy, then tell every instance. */
  async broadcastRevoked(key: CachedKey): Promise<void> {
    const prefix = this.config.REDIS_KEY_PREFIX;
    await this.redis.set(
      keyCacheKey(prefix, key.id),
      encode({ ...key, revoked: true }),
      'EX',
      this.config.KEY_CACHE_REDIS_TTL_SECONDS,
    );
    this.invalidate(key.id);
    await this.redis.publish(revocationChannel(prefix), key.id);
  }

  invalidate(id: string): void {
    this.epoch++;
    this.local.delete(id);
  }

  invalidateAll(): void {
    this.epoch++;
    this.local.clear();
  }

  /**
   * The key if this instance or Redis has it, never asking PostgreSQL (for a key id under
   * failure throttling, whose callers must not reach PostgreSQL); undefined when not cached.
   */
  async getCached(id: string): Promise<CachedKey | null | undefined> {
    const hit = this.local.get(id);
    if (hit && hit.expiresAt > Date.now()) {
      this.lookups.inc({ source: 'local' });
      return hit.value;
    }
    return this.readRedis(id);
  }

  private async readRedis(id: string): Promise<CachedKey | undefined> {
    try {
      const raw = await this.redis.get(keyCacheKey(this.config.REDIS_KEY_PREFIX, id));
      const value = raw ? decode(raw) : undefined;
      if (value) this.lookups.inc({ source: 'redis' });
      return value;
    } catch (error) {
      // Redis is a cache: without it, PostgreSQL answers (slower, still correct).
      this.logger.warn({ err: error }, 'key cache read failed; reading PostgreSQL');
      return undefined;
    }
  }

  private async load(id: string): Promise<CachedKey | null> {
    const epoch = this.epoch;
    const redisKey = keyCacheKey(this.config.REDIS_KEY_PREFIX, id);
    let value: CachedKey | null | undefined = await this.readRedis(id);
    if (value === undefined) {
      this.lookups.inc({ source: 'postgres' });
      let row: ApiKeyEntity | null;
      try {
        row = await this.keys.findOneBy({ id });
      } catch (error) {
        this.logger.error({ err: error }, 'key lookup failed in PostgreSQL');
        throw Errors.dependencyUnavailable(
          'PostgreSQL is unavailable and the key is not cached: it cannot be checked (failed closed).',
        );
      }
      value = row ? fromRow(row) : null;
      if (value) {
        // NX: a revocation written meanwhile must win over this possibly older read.
        this.redis
          .set(redisKey, encode(value), 'EX', this.config.KEY_CACHE_REDIS_TTL_SECONDS, 'NX')
          .catch((error) => this.logger.warn({ err: error }, 'key cache write failed'));
      }
    }
    if (epoch === this.epoch) this.store(id, value);
    return value;
  }

  private store(id: string, value: CachedKey | null): void {
    if (this.config.KEY_CACHE_LOCAL_TTL_MS === 0) return;
    if (this.local.size >= this.config.KEY_CACHE_LOCAL_MAX) {
      const oldest = this.local.keys().next().value;
      if (oldest !== undefined) this.local.delete(oldest);
    }
    this.local.set(id, { value, expiresAt: Date.now() + this.config.KEY_CACHE_LOCAL_TTL_MS });
  }
}
