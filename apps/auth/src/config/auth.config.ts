import { AuthTimeouts, DEFAULT_KEY_PREFIX } from '@tally/contracts';
import { commonEnv, ConfigError, env, EnvVar, kafkaEnv, loadConfig } from '@tally/platform';
import { existsSync } from 'node:fs';

const secret = (describe: string): EnvVar<string> => ({
  describe,
  parse(raw, name) {
    if (!raw || raw.length < 32)
      throw new ConfigError(name, `is required and must be at least 32 characters (${describe})`);
    return raw;
  },
});

const optionalSecret = (describe: string): EnvVar<string> => ({
  describe,
  parse(raw, name) {
    if (raw === undefined || raw.trim() === '') return '';
    if (raw.length < 32) throw new ConfigError(name, `must be at least 32 characters (${describe})`);
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

  // Dashboard credentials: JWTs signed by the dashboard's identity provider. Tally stores no passwords.
  JWT_ALGORITHM: env.oneOf('algorithm of dashboard JWTs', ['HS256', 'RS256', 'ES256'] as const, 'HS256'),
  JWT_SECRET: optionalSecret('HS256 secret of dashboard JWTs'),
  JWT_PUBLIC_KEY: env.string('RS256/ES256 public key of dashboard JWTs (PEM text)', ''),
  JWT_PUBLIC_KEY_FILE: env.string('RS256/ES256 public key of dashboard JWTs (a PEM or JWKS file)', ''),
  JWT_ISSUER: env.string('expected `iss` of dashboard JWTs', 'tally-dashboard'),
  JWT_AUDIENCE: env.string('expected `aud` of dashboard JWTs', 'tally-auth'),
  JWT_CLOCK_SKEW_SECONDS: env.int('tolerated clock skew for exp/nbf/iat', 30, 0, 600),

  // Verify hot path.
  KEY_CACHE_LOCAL_TTL_MS: env.int('in-process key cache TTL (safety net behind revocation broadcast)', 5_000, 0),
  KEY_CACHE_LOCAL_MAX: env.int('in-process key cache entries', 100_000, 1),
  KEY_CACHE_REDIS_TTL_SECONDS: env.int('Redis key cache TTL', 300, 1),
  THROTTLE_MAX_FAILURES: env.int('failed verifications per source address or key id per window', 20, 1),
  THROTTLE_WINDOW_SECONDS: env.int('window of failed-verification throttling', 60, 1),
  LAST_USED_INTERVAL_SECONDS: env.int('lastUsedAt: at most one write per key per this many seconds', 60, 1),
  EVENT_BATCH_MS: env.int('non-metered events are flushed to Kafka at least this often', 50, 1, 10_000),
  EVENT_ACK_TIMEOUT_MS: env.int(
    'metered actions wait at most this long for Kafka',
    AuthTimeouts.eventAckMs,
    100,
    60_000,
  ),

  // Admission of metered actions by quota. Without QUOTA_URL every metered action is admitted.
  QUOTA_URL: env.string('quota base URL asked before metered actions, e.g. http://127.0.0.1:3003', ''),
  QUOTA_SERVICE_TOKEN: env.string('credential auth presents to quota (default: the first SERVICE_TOKENS)', ''),
  QUOTA_TIMEOUT_MS: env.int('longest wait for quota before failing closed', AuthTimeouts.quotaMs, 10, 10_000),
};

export type AuthConfig = { [K in keyof typeof authEnv]: ReturnType<(typeof authEnv)[K]['parse']> };
export const AUTH_CONFIG = Symbol('AUTH_CONFIG');

/** Rules between variables, checked after each one parsed on its own. */
export function checkAuthConfig(config: AuthConfig): AuthConfig {
  if (config.QUOTA_URL && !/^https?:\/\/[^\s]+$/.test(config.QUOTA_URL)) {
    throw new ConfigError('QUOTA_URL', `must be an http(s) URL, got ${JSON.stringify(config.QUOTA_URL)}`);
  }
  if (config.JWT_ALGORITHM !== 'HS256') {
    if (!config.JWT_PUBLIC_KEY && !config.JWT_PUBLIC_KEY_FILE)
      throw new ConfigError('JWT_PUBLIC_KEY', `or JWT_PUBLIC_KEY_FILE is required with ${config.JWT_ALGORITHM}`);
    if (config.JWT_PUBLIC_KEY_FILE && !existsSync(config.JWT_PUBLIC_KEY_FILE))
      throw new ConfigError('JWT_PUBLIC_KEY_FILE', `names a file that does not exist`);
  }
  return config;
}

export function loadAuthConfig(source: Record<string, string | undefined> = process.env): AuthConfig {
  try {
    return checkAuthConfig(loadConfig(authEnv, source) as AuthConfig);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
