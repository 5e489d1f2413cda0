export * from './admission-cache';
export * from './admission-scripts';
export * from './auth-scripts';
export * from './balance-cache';
export * from './redis-client';
export * from './redis.module';
export * from './key-slot';
export * from './scripts';
