export * from './balance-cache';
export * from './redis-client';
export * from './redis.module';
