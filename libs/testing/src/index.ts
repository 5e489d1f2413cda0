export * from './expect-eventually';
export * from './services';
export * from './test-context';
export * from './free-port';
export * from './private-kafka';
export * from './private-redis-cluster';
export * from './private-redis';
export * from './private-postgres';
