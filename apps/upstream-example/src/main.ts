import 'reflect-metadata';
import { installProcessLogging, logFatal } from '@tally/platform';
import { bootstrapUpstreamExample } from './bootstrap';
import { loadUpstreamConfig } from './config/upstream.config';

// JSON lines from the first one: config errors, kafkajs and Node's warnings included (issue 16).
installProcessLogging('upstream-example');
void bootstrapUpstreamExample(loadUpstreamConfig()).catch((error) => {
  logFatal('upstream-example failed to start', error);
  process.exit(1);
});
