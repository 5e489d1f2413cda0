import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DATA_SOURCE } from '@tally/database';
import { REDIS, type RedisClient } from '@tally/redis';
import { DataSource } from 'typeorm';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';

/**
 * `api_keys.last_used_at`, written in batches: at most one write per key per
 * LAST_USED_INTERVAL_SECONDS across all instances (a Redis SET NX gate per key), one UPDATE per
 * flush, never a write per verify.
 */
@Injectable()
export class LastUsedWriter implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(LastUsedWriter.name);
  private pending = new Map<string, Date>();
  /** When this instance last queued each key: touches in between cost nothing. */
  private queuedAt = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: RedisClient,
  ) {}

  private get intervalMs(): number {
    return this.config.LAST_USED_INTERVAL_SECONDS * 1000;
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), Math.min(this.intervalMs, 5_000));
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  touch(keyId: string, at = new Date()): void {
    const last = this.queuedAt.get(keyId);
    if (last !== undefined && at.getTime() - last < this.intervalMs) return;
    this.queuedAt.set(keyId, at.getTime());
    this.pending.set(keyId, at);
  }

  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(): Promise<void> {
    const cutoff = Date.now() - this.intervalMs;
    for (const [id, at] of this.queuedAt) if (at < cutoff) this.queuedAt.delete(id);
    if (this.pending.size === 0) return;
    const batch = [...this.pending];
    this.pending = new Map();
    try {
      const prefix = this.config.REDIS_KEY_PREFIX;
      // One SET NX per key (pipelined by the client): the keys live on different cluster slots.
      const results = await Promise.all(
        batch.map(([id]) => this.redis.set(`${prefix}auth:last-used:${id}`, '1', 'PX', this.intervalMs, 'NX')),
      );
      const mine = batch.filter((_, i) => results[i] === 'OK');
      if (mine.length === 0) return;
      await this.dataSource.query(
        `UPDATE api_keys AS k SET last_used_at = v.at
           FROM unnest($1::varchar[], $2::timestamptz[]) AS v(id, at)
          WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.at)`,
        [mine.map(([id]) => id), mine.map(([, at]) => at.toISOString())],
      );
    } catch (error) {
      // lastUsedAt is informational: a lost write is logged, never fatal.
      this.logger.warn({ err: error, keys: batch.length }, 'could not write lastUsedAt');
    }
  }
}
