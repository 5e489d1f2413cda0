import 'reflect-metadata';
import { bootstrapAuth } from './bootstrap';
import { loadAuthConfig } from './config/auth.config';

void bootstrapAuth(loadAuthConfig()).catch((error) => {
  console.error(`auth failed to start: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
