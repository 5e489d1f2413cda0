import 'reflect-metadata';
import { bootstrapMetering } from './bootstrap';
import { loadMeteringConfig } from './config/metering.config';

void bootstrapMetering(loadMeteringConfig()).catch((error) => {
  console.error(`metering failed to start: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
