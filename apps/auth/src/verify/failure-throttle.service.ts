import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { createSubscriber, REDIS, type RedisClient } from '@tally/redis';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';

const MAX_LOCAL_BLOCKS = 100_000;

/**
 * Failed-verification throttling, per source address and per key id. Redis holds the truth
 * (a throttled caller never reaches PostgreSQL); fixed windows: each failure increments a counter
 * that expires THROTTLE_WINDOW_SECONDS after the first one. Key layout (under REDIS_KEY_PREFIX):
 *   auth:fail:addr:<address>   auth:fail:key:<lookupId>   (one key per command: Cluster-safe)
 *   auth:throttled             pub/sub channel: "<counter key> <blocked-until epoch ms>"
 * The counter that crosses the limit is broadcast, so every instance also knows it locally and
 * the hot path (a valid key found in the local cache) can refuse a throttled caller without a
 * Redis round trip; every other path asks Redis.
 */
@Injectable()
export class FailureThrottle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(FailureThrottle.name);
  private readonly blockedUntil = new Map<string, number>();
  private subscriber?: RedisClient;

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(REDIS) private readonly redis: RedisClient,
  ) {}

  private get channel(): string {
    return `${this.config.REDIS_KEY_PREFIX}auth:throttled`;
  }

  async onModuleInit(): Promise<void> {
    const subscriber = createSubscriber(this.redis);
    this.subscriber = subscriber;
    subscriber.on('error', (error) => this.logger.warn({ err: error }, 'throttle subscriber error'));
    subscriber.on('message', (_channel: string, message: string) => {
      const [key, until] = message.split(' ');
      this.block(key, Number(until));
    });
    await subscriber.subscribe(this.channel);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }

  /** The counters of a caller: its address's, and its key id's when given. */
  private keys(address: string | undefined, keyId?: string): string[] {
    const prefix = this.config.REDIS_KEY_PREFIX;
    const keys: string[] = [];
    if (address !== undefined) keys.push(`${prefix}auth:fail:addr:${address}`);
    if (keyId) keys.push(`${prefix}auth:fail:key:${keyId}`);
    return keys;
  }

  private block(key: string, until: number): void {
    if (!key || !Number.isFinite(until) || until <= Date.now()) return;
    if (this.blockedUntil.size >= MAX_LOCAL_BLOCKS) {
      const now = Date.now();
      for (const [known, time] of this.blockedUntil) if (time <= now) this.blockedUntil.delete(known);
      if (this.blockedUntil.size >= MAX_LOCAL_BLOCKS) return; // Redis still answers for the rest
    }
    this.blockedUntil.set(key, Math.max(until, this.blockedUntil.get(key) ?? 0));
  }

  /** Seconds to wait according to what this instance already knows (no I/O), else 0. */
  knownRetryAfter(address: string | undefined, keyId?: string): number {
    if (this.blockedUntil.size === 0) return 0;
    const now = Date.now();
    let wait = 0;
    for (const key of this.keys(address, keyId)) {
      const until = this.blockedUntil.get(key);
      if (until === undefined) continue;
      if (until <= now) this.blockedUntil.delete(key);
      else wait = Math.max(wait, Math.ceil((until - now) / 1000));
    }
    return wait;
  }

  /** Seconds to wait if this address or key id has failed too often (asks Redis), else 0. */
  async retryAfter(address: string | undefined, keyId?: string): Promise<number> {
    const known = this.knownRetryAfter(address, keyId);
    if (known > 0) return known;
    try {
      const keys = this.keys(address, keyId);
      const counts = await Promise.all(keys.map((key) => this.redis.get(key)));
      let wait = 0;
      for (let i = 0; i < keys.length; i++) {
        if (Number(counts[i] ?? 0) >= this.config.THROTTLE_MAX_FAILURES) {
          const ttl = Math.max(await this.redis.pttl(keys[i]), 1);
          this.block(keys[i], Date.now() + ttl);
          wait = Math.max(wait, Math.ceil(ttl / 1000));
        }
      }
      return wait;
    } catch (error) {
      // Throttling protects against guessing; without Redis, verification itself still works.
      this.logger.warn({ err: error }, 'throttle check failed; not throttling');
      return 0;
    }
  }

  /** Counts one failure; never delays or fails the answer. Broadcasts a counter that hits the limit. */
  record(address: string, keyId?: string): void {
    const windowMs = this.config.THROTTLE_WINDOW_SECONDS * 1000;
    for (const key of this.keys(address, keyId)) {
      this.redis
        .multi()
        .incr(key)
        .pexpire(key, windowMs, 'NX')
        .pttl(key)
        .exec()
        .then((results) => {
          const count = Number(results?.[0]?.[1] ?? 0);
          const ttl = Number(results?.[2]?.[1] ?? 0);
          if (count >= this.config.THROTTLE_MAX_FAILURES && ttl > 0) {
            const until = Date.now() + ttl;
            this.block(key, until);
            return this.redis.publish(this.channel, `${key} ${until}`);
          }
        })
        .catch((error) => this.logger.warn({ err: error }, 'could not record a failed verification'));
    }
  }
}
