import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Errors } from '@tally/contracts';
import { ApiKeyEntity, DATA_SOURCE } from '@tally/database';
import { METRICS_REGISTRY } from '@tally/platform';
import {
  ABSENT_KEY,
  createSubscriber,
  defineScript,
  READ_KEY_LUA,
  REDIS,
  type RedisClient,
  type ScriptCall,
} from '@tally/redis';
import { timingSafeEqual } from 'node:crypto';
import { Counter, Gauge, Registry } from 'prom-client';
import { DataSource, Repository } from 'typeorm';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';
import { LookupGate, ShedReason } from './lookup-gate';
import { PendingRevocations } from './pending-revocations';

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
 *   auth:key:<lookupId>   string  JSON {id, orgId, createdBy, hash (hex HMAC), revoked}, TTL renewed
 *                                 by reads; or "-" for an id PostgreSQL does not know (short TTL)
 *   auth:key-revoked      pub/sub channel carrying revoked lookup ids
 */
export const keyCacheKey = (prefix: string, id: string) => `${prefix}auth:key:${id}`;
export const revocationChannel = (prefix: string) => `${prefix}auth:key-revoked`;
const ABSENT = ABSENT_KEY;
/** Pending revocations written per retry; Redis is trusted again once fewer are left. */
const PENDING_BATCH = 100;

/** KEYS[1] the entry, ARGV[1] TTL seconds: the entry, its TTL renewed when it is a key (not "-"). */

function encode(key: CachedKey): string {
  const { id, orgId, createdBy, revoked } = key;
  return JSON.stringify({ id, orgId, createdBy, hash: key.secretHash.toString('hex'), revoked });
}

function decode(raw: string): CachedKey | null | undefined {
  if (raw === ABSENT) return null;
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

/** A local entry; `loadedAt` -1 when invalidated: no longer served, still proves a secret. */
interface LocalEntry {
  value: CachedKey | null;
  loadedAt: number;
}

/**
 * Key lookups for verify: in process, then Redis, then PostgreSQL (capped by a LookupGate).
 * Revocation is seen everywhere within 1 s: a revoke overwrites the Redis entry and is broadcast
 * over pub/sub; the local copy lives at most KEY_CACHE_LOCAL_TTL_MS (≤ 1 s) and is served only
 * while the revocation subscriber is subscribed, so a broadcast lost while it is disconnected is
 * outlived by no local copy. An invalidated local entry still proves a secret (to the failure
 * throttle: its holder is not guessing), never that the key is live.
 *
 * A revoke whose Redis overwrite fails leaves a row in pending_revocations (written in its
 * transaction): every instance retries those every REVOCATION_RETRY_MS, and after each
 * (re)connection to Redis reads no Redis copy until it has written them, so a copy left live in
 * Redis by a revoke whose instance died is never served once Redis is back.
 */
@Injectable()
export class KeyCacheService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(KeyCacheService.name);
  private readonly local = new Map<string, LocalEntry>();
  private readonly inflight = new Map<string, { proven: boolean; promise: Promise<CachedKey | null> }>();
  private readonly keys: Repository<ApiKeyEntity>;
  private readonly lookups: Counter<'source'>;
  private readonly shed: Counter<'reason'>;
  private readonly gate: LookupGate;
  private readonly readKey: ScriptCall<string | null>;
  private subscriber?: RedisClient;
  private listening = false;
  private closing = false;
  /** Redis copies are read only once the pending revocations were written after the last (re)connection. */
  private redisTrusted = false;
  /** Revoked keys whose Redis copy may still say live: as the last retry saw them, and this instance's failed writes. */
  private pendingIds = new Set<string>();
  private failedHere = new Set<string>();
  /** Bumped when the Redis connection closes: a retry begun before may not restore trust. */
  private connection = 0;
  private retrying?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  private readonly pendingGauge: Gauge;
  private shedLoggedAt = 0;
  /** Entries loaded before this instant are not served (every broadcast before it may be lost). */
  private validFrom = 0;
  /** Bumped by every invalidation: a lookup that began before it stores an unservable entry. */
  private epoch = 0;

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(DATA_SOURCE) dataSource: DataSource,
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly pendingRevocations: PendingRevocations,
  ) {
    this.keys = dataSource.getRepository(ApiKeyEntity);
    this.readKey = defineScript<string | null>(redis, { name: 'authReadKey', numberOfKeys: 1, lua: READ_KEY_LUA });
    this.gate = new LookupGate(
      config.KEY_LOOKUP_MAX_CONCURRENT,
      config.KEY_LOOKUP_MAX_QUEUED,
      config.KEY_LOOKUP_MAX_UNPROVEN_PER_SECOND,
    );
    this.lookups = new Counter({
      name: 'auth_key_lookups_total',
      help: 'API key lookups by where they were answered (local, redis, postgres)',
      labelNames: ['source'],
      registers: [registry],
    });
    this.shed = new Counter({
      name: 'auth_key_lookups_shed_total',
      help: 'PostgreSQL key lookups refused (503) by reason: rate (KEY_LOOKUP_MAX_UNPROVEN_PER_SECOND unproven lookups started this second), queue (KEY_LOOKUP_MAX_CONCURRENT running and KEY_LOOKUP_MAX_QUEUED waiting)',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.pendingGauge = new Gauge({
      name: 'auth_revocations_pending',
      help: 'Revoked keys whose Redis copy is not yet overwritten (pending_revocations, as this instance last saw it)',
      registers: [registry],
    });
    const gate = this.gate;
    new Gauge({
      name: 'auth_key_lookups_in_flight',
      help: 'PostgreSQL key lookups running now',
      registers: [registry],
      collect() {
        this.set(gate.inFlight);
      },
    });
  }

  async onModuleInit(): Promise<void> {
    const subscriber = createSubscriber(this.redis);
    this.subscriber = subscriber;
    subscriber.on('error', (error) => this.logger.warn({ err: error }, 'revocation subscriber error'));
    subscriber.on('close', () => this.stopServing());
    subscriber.on('ready', () => void this.listen(subscriber));
    subscriber.on('message', (_channel: string, id: string) => this.invalidate(id));
    this.redis.on('close', () => {
      this.redisTrusted = false;
      this.connection++;
    });
    // A retry still running from before the reconnection is followed by a fresh one.
    this.redis.on('ready', () => void (this.retrying ?? Promise.resolve()).then(() => this.retryPending()));
    this.retryTimer = setInterval(() => void this.retryPending(), this.config.REVOCATION_RETRY_MS);
    await this.listen(subscriber);
    await this.retryPending();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.retryTimer);
    await this.retrying;
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }

  lookupCounts(): Counter<'source'> {
    return this.lookups;
  }

  /** Whether local copies are served: only while subscribed to revocations. */
  get serving(): boolean {
    return this.listening;
  }

  /**
   * The key as this instance may serve it now, without I/O: a fresh copy (null: known absent),
   * or undefined when there is none to serve.
   */
  peek(id: string): CachedKey | null | undefined {
    const hit = this.local.get(id);
    if (!hit || !this.servable(hit)) return undefined;
    this.lookups.inc({ source: 'local' });
    return hit.value;
  }

  /** Whether this instance has seen `secretHash` prove key `id` (revoked or not), however long ago. */
  knows(id: string, secretHash: Buffer): boolean {
    const value = this.local.get(id)?.value;
    return !!value && timingSafeEqual(value.secretHash, secretHash);
  }

  /** The key as Redis holds it (null: known absent); undefined when Redis has no entry or is unavailable. */
  async readRedis(id: string): Promise<CachedKey | null | undefined> {
    if (this.redis.status !== 'ready' || !this.redisTrusted || this.pendingIds.has(id) || this.failedHere.has(id))
      return undefined;
    const epoch = this.epoch;
    const loadedAt = Date.now();
    try {
      const key = keyCacheKey(this.config.REDIS_KEY_PREFIX, id);
      const raw = await this.readKey([key], String(this.config.KEY_CACHE_REDIS_TTL_SECONDS));
      const value = raw ? decode(raw) : undefined;
      if (value === undefined) return undefined;
      this.lookups.inc({ source: 'redis' });
      this.store(id, value, epoch, loadedAt);
      return value;
    } catch (error) {
      // Redis is a cache: without it, PostgreSQL answers (slower, capped, still correct).
      this.logger.warn({ err: error }, 'key cache read failed; reading PostgreSQL');
      return undefined;
    }
  }

  /**
   * The key from PostgreSQL (null if there is none), remembered in Redis (an unknown id as absent,
   * briefly). At most one lookup per id at a time, except that a proven caller never waits on an
   * unproven one (which the gate may shed); capped by the gate: shed lookups fail closed.
   */
  loadFromPostgres(id: string, proven: boolean): Promise<CachedKey | null> {
    const pending = this.inflight.get(id);
    if (pending && (pending.proven || !proven)) return pending.promise;
    const promise = this.load(id, proven).finally(() => {
      if (this.inflight.get(id)?.promise === promise) this.inflight.delete(id);
    });
    this.inflight.set(id, { proven, promise });
    return promise;
  }

  /** A new key: cached in Redis at once (overwriting an "absent" entry), so its first use needs no lookup. */
  async remember(key: CachedKey): Promise<void> {
    await this.redis
      .set(
        keyCacheKey(this.config.REDIS_KEY_PREFIX, key.id),
        encode(key),
        'EX',
        this.config.KEY_CACHE_REDIS_TTL_SECONDS,
      )
      .catch((error) => this.logger.warn({ err: error, keyId: key.id }, 'could not cache a new key'));
  }

  /**
   * After the revocation is durable in PostgreSQL with its pending_revocations row: overwrite the
   * Redis copy and tell every instance. False when Redis did not take it: every instance retries
   * it from the row until it does (retryPending).
   */
  async broadcastRevoked(key: CachedKey): Promise<boolean> {
    this.invalidate(key.id);
    if (!(await this.tryBroadcast(key))) {
      this.failedHere.add(key.id);
      return false;
    }
    await this.pendingRevocations
      .done(key.orgId, key.id)
      .catch((error) => this.logger.warn({ err: error, keyId: key.id }, 'revocation written; its pending row stays'));
    return true;
  }

  invalidate(id: string): void {
    this.epoch++;
    const hit = this.local.get(id);
    if (hit) hit.loadedAt = -1;
  }

  invalidateAll(): void {
    this.epoch++;
    this.validFrom = Date.now() + 1;
  }

  private async listen(subscriber: RedisClient): Promise<void> {
    try {
      await subscriber.subscribe(revocationChannel(this.config.REDIS_KEY_PREFIX));
      // Broadcasts sent while unsubscribed are lost: forget what was loaded before.
      this.invalidateAll();
      this.listening = true;
    } catch (error) {
      this.logger.warn({ err: error }, 'revocation subscription failed; local key copies not served');
    }
  }

  private stopServing(): void {
    if (this.listening && !this.closing)
      this.logger.warn('revocation subscriber disconnected; local key copies not served');
    this.listening = false;
  }

  private servable(entry: LocalEntry): boolean {
    return (
      this.listening &&
      entry.loadedAt >= this.validFrom &&
      Date.now() - entry.loadedAt < this.config.KEY_CACHE_LOCAL_TTL_MS
    );
  }

  private async load(id: string, proven: boolean): Promise<CachedKey | null> {
    const epoch = this.epoch;
    const loadedAt = Date.now();
    const result = await this.gate.run(proven, () => this.query(id));
    if (!result.ran) {
      this.shed.inc({ reason: result.shed });
      this.logShedding(result.shed);
      throw Errors.dependencyUnavailable(
        'Too many API key lookups are waiting for the database; the key cannot be checked now (failed closed).',
      );
    }
    const value = result.value ? fromRow(result.value) : null;
    this.cacheInRedis(id, value);
    this.store(id, value, epoch, loadedAt);
    return value;
  }

  /** Said once a minute at most while lookups are being shed (the counter says how many). */
  private logShedding(reason: ShedReason): void {
    const now = Date.now();
    if (now - this.shedLoggedAt < 60_000) return;
    this.shedLoggedAt = now;
    this.logger.warn(
      { reason, inFlight: this.gate.inFlight },
      'PostgreSQL key lookups shed (503): keys this instance has not seen proven are refused until the load passes',
    );
  }

  private async query(id: string): Promise<ApiKeyEntity | null> {
    this.lookups.inc({ source: 'postgres' });
    try {
      return await this.keys.findOneBy({ id });
    } catch (error) {
      this.logger.error({ err: error }, 'key lookup failed in PostgreSQL');
      throw Errors.dependencyUnavailable(
        'PostgreSQL is unavailable and the key is not cached: it cannot be checked (failed closed).',
      );
    }
  }

  /** NX: a revocation (or a new key) written meanwhile must win over this possibly older read. */
  private cacheInRedis(id: string, value: CachedKey | null): void {
    if (this.redis.status !== 'ready') return;
    const key = keyCacheKey(this.config.REDIS_KEY_PREFIX, id);
    const [raw, ttl] = value
      ? [encode(value), this.config.KEY_CACHE_REDIS_TTL_SECONDS]
      : [ABSENT, this.config.KEY_NEGATIVE_CACHE_SECONDS];
    this.redis
      .set(key, raw, 'EX', ttl, 'NX')
      .catch((error) => this.logger.warn({ err: error }, 'key cache write failed'));
  }

  private async tryBroadcast(key: CachedKey): Promise<boolean> {
    const prefix = this.config.REDIS_KEY_PREFIX;
    try {
      const entry = encode({ ...key, revoked: true });
      await this.redis.set(keyCacheKey(prefix, key.id), entry, 'EX', this.config.KEY_CACHE_REDIS_TTL_SECONDS);
      await this.redis.publish(revocationChannel(prefix), key.id);
      return true;
    } catch (error) {
      this.logger.error({ err: error, keyId: key.id }, 'revocation not yet written to Redis; retrying');
      return false;
    }
  }

  /** One retry of the pending revocations at a time; none while Redis is not connected. */
  private retryPending(): Promise<void> {
    if (this.closing || this.redis.status !== 'ready') return Promise.resolve();
    this.retrying ??= this.writePending().finally(() => (this.retrying = undefined));
    return this.retrying;
  }

  /**
   * Writes every pending revocation to Redis, then trusts Redis copies again. Without PostgreSQL
   * the pending ones cannot be known: Redis is trusted then (verification would otherwise stop
   * altogether), except for the ids seen pending before.
   */
  private async writePending(): Promise<void> {
    const connection = this.connection;
    const trust = (done: boolean) => (this.redisTrusted = done && connection === this.connection);
    let pending: CachedKey[];
    try {
      pending = await this.pendingRevocations.oldest(PENDING_BATCH);
    } catch (error) {
      this.logger.warn({ err: error }, 'pending revocations unreadable (PostgreSQL); Redis copies trusted');
      trust(true);
      return;
    }
    const left = new Set<string>();
    for (const key of pending) {
      if (!(await this.tryBroadcast(key))) {
        left.add(key.id);
        continue;
      }
      this.failedHere.delete(key.id);
      await this.pendingRevocations.done(key.orgId, key.id).catch(() => undefined);
      this.logger.log({ keyId: key.id, orgId: key.orgId }, 'revocation written to Redis by a retry');
    }
    this.pendingIds = left;
    this.pendingGauge.set(left.size);
    trust(left.size === 0 && pending.length < PENDING_BATCH);
  }

  private store(id: string, value: CachedKey | null, epoch: number, loadedAt: number): void {
    if (this.config.KEY_CACHE_LOCAL_TTL_MS === 0 && !value) return;
    if (!this.local.has(id) && this.local.size >= this.config.KEY_CACHE_LOCAL_MAX) {
      const oldest = this.local.keys().next().value;
      if (oldest !== undefined) this.local.delete(oldest);
    }
    this.local.delete(id); // re-inserted last: the eviction above drops the least recently stored
    this.local.set(id, { value, loadedAt: epoch === this.epoch && this.listening ? loadedAt : -1 });
  }
}
