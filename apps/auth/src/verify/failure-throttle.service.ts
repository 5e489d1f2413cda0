import { Inject, Injectable, Logger } from '@nestjs/common';
import { METRICS_REGISTRY } from '@tally/platform';
import { CHECK_AND_COUNT_LUA, defineScript, REDIS, REFUND_LUA, type RedisClient, type ScriptCall } from '@tally/redis';
import { Counter, Gauge, Registry } from 'prom-client';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';
import { addressBucket } from './throttle-buckets';

/** The buckets of one verification: the end user's address (when the gateway sent it) and the gateway's own. */
export interface Caller {
  address?: string;
  gateway: string;
}

export interface ThrottleCounter {
  key: string;
  limit: number;
}

export type FailureKind = 'malformed' | 'guess' | 'revoked' | 'throttled';

const MAX_LOCAL_COUNTERS = 100_000;

/** Fixed-window counters in this process: what throttles while Redis is down. */
class LocalWindows {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  /** Same contract as CHECK_AND_COUNT_LUA over all counters at once; a full table refuses (fails closed). */
  checkAndCount(counters: ThrottleCounter[], windowMs: number): number {
    const now = Date.now();
    if (this.windows.size >= MAX_LOCAL_COUNTERS) this.sweep(now);
    if (this.windows.size >= MAX_LOCAL_COUNTERS) return windowMs;
    let waitMs = 0;
    for (const { key, limit } of counters) {
      const window = this.windows.get(key);
      if (window && window.resetAt > now && window.count >= limit) waitMs = Math.max(waitMs, window.resetAt - now);
    }
    if (waitMs > 0) return waitMs;
    for (const { key } of counters) {
      const window = this.windows.get(key);
      if (window && window.resetAt > now) window.count++;
      else this.windows.set(key, { count: 1, resetAt: now + windowMs });
    }
    return 0;
  }

  refund(counters: ThrottleCounter[]): void {
    for (const { key } of counters) {
      const window = this.windows.get(key);
      if (window && window.count > 0) window.count--;
    }
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}

/**
 * Failed-verification throttling: per end-user address (IPv6 by /64), per gateway, per key id.
 * Only attempts that have not proven their secret are counted, and they are counted before their
 * PostgreSQL lookup, atomically (CHECK_AND_COUNT_LUA), so concurrent guesses cannot slip past
 * the limit; an attempt whose lookup proves its secret is refunded. Redis holds the counters
 * (under REDIS_KEY_PREFIX: auth:fail:addr:<bucket>, auth:fail:gw:<bucket>, auth:fail:key:<id>);
 * while Redis is down, this process counts on its own (auth_throttle_local_fallback = 1, logged).
 */
@Injectable()
export class FailureThrottle {
  private readonly logger = new Logger(FailureThrottle.name);
  /** What this instance learnt from Redis: counter key -> blocked until (epoch ms). */
  private readonly blockedUntil = new Map<string, number>();
  private readonly local = new LocalWindows();
  private readonly failures: Counter<'kind'>;
  private readonly fallbackGauge: Gauge;
  private fallback = false;
  private readonly checkAndCountScript: ScriptCall<number>;
  private readonly refundScript: ScriptCall<number>;

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.checkAndCountScript = defineScript<number>(redis, {
      name: 'authCheckAndCount',
      numberOfKeys: 1,
      lua: CHECK_AND_COUNT_LUA,
    });
    this.refundScript = defineScript<number>(redis, { name: 'authRefund', numberOfKeys: 1, lua: REFUND_LUA });
    this.failures = new Counter({
      name: 'auth_verify_failures_total',
      help: 'Refused verifications by kind: malformed, guess (unknown id or wrong secret), revoked (the right secret of a revoked key), throttled',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.fallbackGauge = new Gauge({
      name: 'auth_throttle_local_fallback',
      help: '1 while Redis is unavailable and failed verifications are throttled by each instance on its own',
      registers: [registry],
    });
    // Said as soon as the connection drops or returns, not at the next failed verification.
    redis.on('close', () => this.useLocal('the Redis connection closed'));
    redis.on('ready', () => this.useRedis());
  }

  private get windowMs(): number {
    return this.config.THROTTLE_WINDOW_SECONDS * 1000;
  }

  note(kind: FailureKind): void {
    this.failures.inc({ kind });
  }

  /** The counters an unproven attempt for `keyId` from `caller` is charged to. */
  countersFor(caller: Caller, keyId: string): ThrottleCounter[] {
    const prefix = `${this.config.REDIS_KEY_PREFIX}auth:fail:`;
    const counters: ThrottleCounter[] = [
      { key: `${prefix}gw:${addressBucket(caller.gateway)}`, limit: this.config.THROTTLE_GATEWAY_MAX_FAILURES },
      { key: `${prefix}key:${keyId}`, limit: this.config.THROTTLE_MAX_FAILURES },
    ];
    if (caller.address !== undefined) {
      counters.unshift({
        key: `${prefix}addr:${addressBucket(caller.address)}`,
        limit: this.config.THROTTLE_MAX_FAILURES,
      });
    }
    return counters;
  }

  /** Counts one unproven attempt on every counter; seconds to wait when one is at its limit (not counted then), else 0. */
  async checkAndCount(counters: ThrottleCounter[]): Promise<number> {
    if (counters.length === 0) return 0;
    const known = this.knownWaitMs(counters);
    if (known > 0) return this.refused(known);
    if (this.redis.status !== 'ready') return this.refused(this.checkLocally(counters, 'Redis is not connected'));
    try {
      const waits = await Promise.all(
        counters.map(({ key, limit }) => this.checkAndCountScript([key], String(limit), String(this.windowMs))),
      );
      this.useRedis();
      let waitMs = 0;
      waits.forEach((wait, i) => {
        if (wait > 0) this.remember(counters[i].key, wait);
        waitMs = Math.max(waitMs, Number(wait));
      });
      return this.refused(waitMs);
    } catch (error) {
      return this.refused(this.checkLocally(counters, (error as Error).message));
    }
  }

  /** An attempt counted before its lookup proved its secret: it was not a guess. Never delays the answer. */
  refund(counters: ThrottleCounter[]): void {
    if (this.fallback) return this.local.refund(counters);
    for (const { key } of counters) {
      this.refundScript([key]).catch(() => this.local.refund([{ key, limit: 0 }]));
    }
  }

  private refused(waitMs: number): number {
    if (waitMs > 0) this.note('throttled');
    return Math.ceil(waitMs / 1000);
  }

  private checkLocally(counters: ThrottleCounter[], reason: string): number {
    this.useLocal(reason);
    return this.local.checkAndCount(counters, this.windowMs);
  }

  private useLocal(reason: string): void {
    if (this.fallback) return;
    this.fallback = true;
    this.fallbackGauge.set(1);
    this.logger.warn(
      { reason },
      'Redis unavailable: failed verifications are throttled per instance until it is back; key lookups stay capped',
    );
  }

  private useRedis(): void {
    if (!this.fallback) return;
    this.fallback = false;
    this.fallbackGauge.set(0);
    this.logger.log('Redis is back: failed verifications are throttled through Redis again');
  }

  private knownWaitMs(counters: ThrottleCounter[]): number {
    if (this.blockedUntil.size === 0) return 0;
    const now = Date.now();
    let waitMs = 0;
    for (const { key } of counters) {
      const until = this.blockedUntil.get(key);
      if (until === undefined) continue;
      if (until <= now) this.blockedUntil.delete(key);
      else waitMs = Math.max(waitMs, until - now);
    }
    return waitMs;
  }

  private remember(key: string, waitMs: number): void {
    if (this.blockedUntil.size >= MAX_LOCAL_COUNTERS) {
      const now = Date.now();
      for (const [known, until] of this.blockedUntil) if (until <= now) this.blockedUntil.delete(known);
      if (this.blockedUntil.size >= MAX_LOCAL_COUNTERS) return; // Redis still answers for the rest
    }
    this.blockedUntil.set(key, Date.now() + Number(waitMs));
  }
}
