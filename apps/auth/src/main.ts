import 'reflect-metadata';
import { installProcessLogging, logFatal } from '@tally/platform';
import { bootstrapAuth } from './bootstrap';
import { loadAuthConfig } from './config/auth.config';

// JSON lines from the first one: config errors, kafkajs and Node's warnings included (issue 16).
installProcessLogging('auth');
void bootstrapAuth(loadAuthConfig()).catch((error) => {
  logFatal('auth failed to start', error);
  process.exit(1);
});
