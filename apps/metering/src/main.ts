import 'reflect-metadata';
import { installProcessLogging, logFatal } from '@tally/platform';
import { bootstrapMetering } from './bootstrap';
import { loadMeteringConfig } from './config/metering.config';

// JSON lines from the first one: config errors, kafkajs and Node's warnings included (issue 16).
installProcessLogging('metering');
void bootstrapMetering(loadMeteringConfig()).catch((error) => {
  logFatal('metering failed to start', error);
  process.exit(1);
});
