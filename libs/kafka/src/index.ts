// First: the kafkajs request-queue fix applies before any client of this process exists.
import './request-queue-timeout';
export * from './batch-consumer';
export * from './event-publisher';
export * from './key-partitioner';
export * from './kafka-client';
export * from './topics';
export * from './kafka.module';
export * from './kafka-startup';
