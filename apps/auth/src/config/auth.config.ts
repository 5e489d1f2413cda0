import { AuthTimeouts, DEFAULT_KEY_PREFIX } from '@tally/contracts';
import {
  checkServiceCredentials,
  commonEnv,
  ConfigError,
  env,
  EnvVar,
  kafkaEnv,
  loadConfigOrExit,
} from '@tally/platform';
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
  // At most the revocation bound (1 s): a lost broadcast is then outlived by no local copy.
  KEY_CACHE_LOCAL_TTL_MS: env.int('in-process key cache TTL (safety net behind revocation broadcast)', 1_000, 0, 1_000),
  KEY_CACHE_LOCAL_MAX: env.int('in-process key cache entries', 100_000, 1),
  KEY_CACHE_REDIS_TTL_SECONDS: env.int('Redis key cache TTL, renewed by each read', 3_600, 1),
  REVOCATION_RETRY_MS: env.int(
    'how often each instance retries the Redis overwrite of revocations that did not land (pending_revocations)',
    250,
    50,
    1_000,
  ),
  KEY_NEGATIVE_CACHE_SECONDS: env.int('an unknown key id is remembered as absent in Redis this long', 60, 1, 3_600),
  KEY_LOOKUP_MAX_CONCURRENT: env.int('PostgreSQL key lookups in flight per instance', 8, 1, 1_000),
  KEY_LOOKUP_MAX_QUEUED: env.int('key lookups waiting for a slot; beyond, refused with 503', 256, 0, 100_000),
  KEY_LOOKUP_MAX_UNPROVEN_PER_SECOND: env.int(
    'PostgreSQL key lookups per second per instance for keys this instance has not seen proven; beyond, 503',
    100,
    1,
    100_000,
  ),
  THROTTLE_MAX_FAILURES: env.int('failed verifications per end-user address (IPv6: /64) or key id per window', 20, 1),
  THROTTLE_GATEWAY_MAX_FAILURES: env.int(
    'failed verifications per gateway (caller socket address) per window',
    1_000,
    1,
  ),
  THROTTLE_WINDOW_SECONDS: env.int('window of failed-verification throttling', 60, 1),
  LAST_USED_INTERVAL_SECONDS: env.int('lastUsedAt: at most one write per key per this many seconds', 60, 1),
  EVENT_BATCH_MS: env.int('non-metered events are flushed to Kafka at least this often', 50, 1, 10_000),
  EVENT_QUEUE_MAX: env.int('events waiting for Kafka per producer; beyond, a verify is refused with 503', 100_000, 1),
  EVENT_ACK_TIMEOUT_MS: env.int(
    'metered actions wait at most this long for Kafka',
    AuthTimeouts.eventAckMs,
    100,
    60_000,
  ),

  // Admission of metered actions by quota: QUOTA_URL, or QUOTA_DISABLED=true (development only: all admitted).
  QUOTA_URL: env.string('quota base URL asked before metered actions, e.g. http://127.0.0.1:3003', ''),
  QUOTA_DISABLED: env.oneOf('admit metered actions without quota (development)', ['true', 'false'] as const, 'false'),
  QUOTA_SERVICE_TOKEN: env.string('credential auth presents to quota: its own, never one auth accepts', ''),
  QUOTA_TIMEOUT_MS: env.int('longest wait for quota before failing closed', AuthTimeouts.quotaMs, 10, 10_000),
};

export type AuthConfig = { [K in keyof typeof authEnv]: ReturnType<(typeof authEnv)[K]['parse']> };
export const AUTH_CONFIG = Symbol('AUTH_CONFIG');

/** Metered actions need quota unless it is switched off explicitly; then auth needs its own credential for it. */
function checkQuota(config: AuthConfig): void {
  if (config.QUOTA_DISABLED === 'true') {
    if (config.QUOTA_URL) throw new ConfigError('QUOTA_DISABLED', 'is true while QUOTA_URL is set: choose one');
    if (config.TALLY_ENV !== 'development')
      throw new ConfigError('QUOTA_DISABLED', 'is allowed only with TALLY_ENV=development');
    return;
  }
  if (!config.QUOTA_URL)
    throw new ConfigError(
      'QUOTA_URL',
      'is required (metered actions are admitted by quota); QUOTA_DISABLED=true in development',
    );
  if (!/^https?:\/\/[^\s]+$/.test(config.QUOTA_URL)) throw new ConfigError('QUOTA_URL', 'must be an http(s) URL');
  if (!config.QUOTA_SERVICE_TOKEN) throw new ConfigError('QUOTA_SERVICE_TOKEN', 'is required with QUOTA_URL');
}

/** Rules between variables, checked after each one parsed on its own. */
export function checkAuthConfig(config: AuthConfig): AuthConfig {
  checkQuota(config);
  // Whatever answers at QUOTA_URL sees QUOTA_SERVICE_TOKEN: it must not be one auth itself accepts.
  checkServiceCredentials(config, { QUOTA_SERVICE_TOKEN: config.QUOTA_SERVICE_TOKEN });
  if (config.JWT_ALGORITHM !== 'HS256') {
    if (!config.JWT_PUBLIC_KEY && !config.JWT_PUBLIC_KEY_FILE)
      throw new ConfigError('JWT_PUBLIC_KEY', `or JWT_PUBLIC_KEY_FILE is required with ${config.JWT_ALGORITHM}`);
    if (config.JWT_PUBLIC_KEY_FILE && !existsSync(config.JWT_PUBLIC_KEY_FILE))
      throw new ConfigError('JWT_PUBLIC_KEY_FILE', `names a file that does not exist`);
  }
  return config;
}

export const loadAuthConfig = (source: Record<string, string | undefined> = process.env): AuthConfig =>
  loadConfigOrExit(authEnv, source, (config) => checkAuthConfig(config as AuthConfig)) as AuthConfig;
