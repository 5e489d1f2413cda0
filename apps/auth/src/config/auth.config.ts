import { DEFAULT_KEY_PREFIX } from '@tally/contracts';
import { commonEnv, ConfigError, env, EnvVar, kafkaEnv, loadConfigOrExit } from '@tally/platform';

const secret = (describe: string): EnvVar<string> => ({
  describe,
  parse(raw, name) {
    if (!raw || raw.length < 32)
      throw new ConfigError(name, `is required and must be at least 32 characters (${describe})`);
    return raw;
  },
});

export const authEnv = {
  ...commonEnv,
  ...kafkaEnv,
  PORT: env.int('HTTP port', 3001, 0, 65535),
  API_KEY_PREFIX: env.string('prefix of every issued API key', DEFAULT_KEY_PREFIX),
  API_KEY_PEPPER: secret('server-side HMAC key for stored API key hashes'),
  EVENT_SOURCE: env.string('CloudEvents source of the events auth publishes', '//tally/auth'),
  MIGRATE_ON_START: env.oneOf('apply pending migrations at start', ['true', 'false'] as const, 'true'),
};

export type AuthConfig = { [K in keyof typeof authEnv]: ReturnType<(typeof authEnv)[K]['parse']> };
export const AUTH_CONFIG = Symbol('AUTH_CONFIG');

export const loadAuthConfig = (source: Record<string, string | undefined> = process.env): AuthConfig =>
  loadConfigOrExit(authEnv, source) as AuthConfig;
