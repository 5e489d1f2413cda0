export * from './batch-consumer';
export * from './event-publisher';
export * from './key-partitioner';
export * from './kafka-client';
export * from './topics';
export * from './kafka.module';
