import { Inject, Injectable, Logger } from '@nestjs/common';
import { REDIS } from '@tally/redis';
import type Redis from 'ioredis';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';

/**
 * Failed-verification throttling, per source address and per key id, in Redis only (a throttled
 * caller never reaches PostgreSQL). Fixed windows: each failure increments a counter that expires
 * THROTTLE_WINDOW_SECONDS after the first failure. Key layout (under REDIS_KEY_PREFIX):
 *   auth:fail:addr:<address>   auth:fail:key:<lookupId>
 * One key per command, so it works unchanged on Redis Cluster.
 */
@Injectable()
export class FailureThrottle {
  private readonly logger = new Logger(FailureThrottle.name);

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  private keys(address: string, keyId?: string): string[] {
    const prefix = this.config.REDIS_KEY_PREFIX;
    const keys = [`${prefix}auth:fail:addr:${address}`];
    if (keyId) keys.push(`${prefix}auth:fail:key:${keyId}`);
    return keys;
  }

  /** Seconds to wait if this address or key id has failed too often, else 0. */
  async retryAfter(address: string, keyId?: string): Promise<number> {
    try {
      const keys = this.keys(address, keyId);
      const counts = await Promise.all(keys.map((key) => this.redis.get(key)));
      let wait = 0;
      for (let i = 0; i < keys.length; i++) {
        if (Number(counts[i] ?? 0) >= this.config.THROTTLE_MAX_FAILURES) {
          const ttl = await this.redis.pttl(keys[i]);
          wait = Math.max(wait, Math.ceil(Math.max(ttl, 1) / 1000));
        }
      }
      return wait;
    } catch (error) {
      // Throttling protects against guessing; without Redis, verification itself still works.
      this.logger.warn({ err: error }, 'throttle check failed; not throttling');
      return 0;
    }
  }

  /** Counts one failure; never delays or fails the answer. */
  record(address: string, keyId?: string): void {
    const windowMs = this.config.THROTTLE_WINDOW_SECONDS * 1000;
    for (const key of this.keys(address, keyId)) {
      this.redis
        .multi()
        .incr(key)
        .pexpire(key, windowMs, 'NX')
        .exec()
        .catch((error) => this.logger.warn({ err: error }, 'could not record a failed verification'));
    }
  }
}
