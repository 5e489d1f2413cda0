import 'reflect-metadata';
import { bootstrapUpstreamExample } from './bootstrap';
import { loadUpstreamConfig } from './config/upstream.config';

void bootstrapUpstreamExample(loadUpstreamConfig()).catch((error) => {
  console.error(`upstream-example failed to start: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
