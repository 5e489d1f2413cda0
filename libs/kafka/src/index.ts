export * from './batch-consumer';
export * from './event-publisher';
export * from './kafka-client';
export * from './topics';
export * from './kafka.module';
