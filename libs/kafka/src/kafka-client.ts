import './request-queue-timeout';
import { Kafka, logLevel, LogEntry } from 'kafkajs';
import { Logger } from '@nestjs/common';

const levels: Record<number, 'error' | 'warn' | 'log' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'log',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs logs through Nest's logger (so through pino), at WARN and above by default. */
export function createKafka(clientId: string, brokers: string[]): Kafka {
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 100, retries: 8 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const logger = new Logger(`kafkajs:${entry.namespace}`);
      const { message, ...rest } = entry.log;
      logger[levels[entry.level] ?? 'log']({ ...rest, msg: message });
    },
  });
}
