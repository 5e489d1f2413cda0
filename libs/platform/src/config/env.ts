import { parseRedisUrl } from './redis-url';
import { logFatal } from '../logging/process-logging';

/**
 * Configuration validated once at boot. Each app declares the variables it reads; a missing or
 * malformed one stops the process with one line naming it, before any connection is opened.
 */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable} ${reason}`);
    this.name = 'ConfigError';
  }
}

export interface EnvVar<T> {
  describe: string;
  parse(raw: string | undefined, name: string): T;
}

type Source = Record<string, string | undefined>;

const present = (raw: string | undefined): raw is string => raw !== undefined && raw.trim() !== '';

function variable<T>(describe: string, fallback: T | undefined, convert: (raw: string, name: string) => T): EnvVar<T> {
  return {
    describe,
    parse(raw, name) {
      if (!present(raw)) {
        if (fallback === undefined) throw new ConfigError(name, `is required (${describe})`);
        return fallback;
      }
      return convert(raw.trim(), name);
    },
  };
}

export const env = {
  string: (describe: string, fallback?: string) => variable(describe, fallback, (raw) => raw),
  int: (describe: string, fallback?: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    variable(describe, fallback, (raw, name) => {
      const value = Number(raw);
      if (!/^-?\d+$/.test(raw) || value < min || value > max) {
        throw new ConfigError(name, `must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
      }
      return value;
    }),
  url: (describe: string, protocols: string[], fallback?: string) =>
    variable(describe, fallback, (raw, name) => {
      let parsed: URL;
      try {
        parsed = new URL(raw);
      } catch {
        throw new ConfigError(name, `must be a URL (${describe})`);
      }
      if (!protocols.includes(parsed.protocol.replace(/:$/, ''))) {
        throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
      }
      return raw;
    }),
  list: (describe: string, fallback?: string[]) =>
    variable(describe, fallback, (raw, name) => {
      const items = raw
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
      if (items.length === 0) throw new ConfigError(name, `must be a comma-separated list (${describe})`);
      return items;
    }),
  /** One Redis server or a Redis Cluster (see parseRedisUrl); kept as written, parsed by the client factory. */
  redisUrl: (describe: string, fallback?: string) =>
    variable(describe, fallback, (raw, name) => {
      try {
        parseRedisUrl(raw);
      } catch (error) {
        throw new ConfigError(name, (error as Error).message);
      }
      return raw;
    }),
  brokers: (describe: string, fallback?: string[]) =>
    variable(describe, fallback, (raw, name) => {
      const items = raw.split(',').map((item) => item.trim());
      if (!items.every((item) => /^[\w.-]+:\d{1,5}$/.test(item) && Number(item.split(':')[1]) <= 65535)) {
        throw new ConfigError(name, `must be host:port[,host:port...], got ${JSON.stringify(raw)}`);
      }
      return items;
    }),
  oneOf: <T extends string>(describe: string, values: readonly T[], fallback?: T) =>
    variable<T>(describe, fallback, (raw, name) => {
      if (!values.includes(raw as T)) throw new ConfigError(name, `must be one of ${values.join(', ')}`);
      return raw as T;
    }),
};

export type ConfigSpec<T> = { [K in keyof T]: EnvVar<T[K]> };

/** Reads every declared variable (the key is the variable name) into a typed object. */
export function loadConfig<T>(spec: ConfigSpec<T>, source: Source = process.env): T {
  const result = {} as T;
  for (const name of Object.keys(spec) as (keyof T & string)[]) {
    result[name] = spec[name].parse(source[name], name);
  }
  return result;
}

/** The variables every Tally app shares. */
export const commonEnv = {
  HOST: env.string('address to listen on', '127.0.0.1'),
  LOG_LEVEL: env.oneOf(
    'pino log level',
    ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const,
    'info',
  ),
  DATABASE_URL: env.url('PostgreSQL connection URL', ['postgres', 'postgresql']),
  REDIS_URL: env.redisUrl(
    'Redis URL: redis://, rediss://, or redis+cluster://host:port[,host:port...] for a Redis Cluster',
  ),
  REDIS_KEY_PREFIX: env.string('prefix of every Redis key (isolates test runs)', 'tally:'),
  SERVICE_TOKENS: env.list('comma-separated credentials accepted from internal services'),
  // Outside development, weak service credentials are refused at start (checkServiceCredentials).
  TALLY_ENV: env.oneOf(
    'deployment kind: development relaxes credential rules',
    ['production', 'development'] as const,
    'production',
  ),
};

export const MIN_CREDENTIAL_LENGTH = 32;

/**
 * The credentials an app accepts (SERVICE_TOKENS) and those it presents to each callee
 * (`outbound`, by variable name; empty = that callee is not called). Outside development each
 * has at least MIN_CREDENTIAL_LENGTH characters; an outbound credential is never one the app
 * accepts itself, whatever the deployment (the callee could replay it against this app).
 */
export function checkServiceCredentials(
  config: { TALLY_ENV: 'production' | 'development'; SERVICE_TOKENS: string[] },
  outbound: Record<string, string> = {},
): void {
  const presented = Object.entries(outbound).filter(([, token]) => token !== '');
  for (const [name, token] of presented) {
    if (config.SERVICE_TOKENS.includes(token))
      throw new ConfigError(name, 'must differ from every SERVICE_TOKENS credential (its own credential per callee)');
  }
  if (config.TALLY_ENV === 'development') return;
  if (config.SERVICE_TOKENS.some((token) => token.length < MIN_CREDENTIAL_LENGTH))
    throw new ConfigError('SERVICE_TOKENS', `each credential must have at least ${MIN_CREDENTIAL_LENGTH} characters`);
  for (const [name, token] of presented) {
    if (token.length < MIN_CREDENTIAL_LENGTH)
      throw new ConfigError(name, `must have at least ${MIN_CREDENTIAL_LENGTH} characters`);
  }
}

export const kafkaEnv = {
  KAFKA_BROKERS: env.brokers('Kafka bootstrap brokers, host:port[,host:port]'),
  KAFKA_TOPIC_PREFIX: env.string('prefix of every topic and group id (isolates test runs)', ''),
  KAFKA_REPLICATION_FACTOR: env.int('replicas of each topic Tally creates (3 on a cluster)', 1, 1, 16),
  KAFKA_MIN_INSYNC_REPLICAS: env.int('min.insync.replicas of each topic Tally creates (2 on a cluster)', 1, 1, 16),
};

/**
 * Entry points call this: on a configuration error it prints the one line and exits non-zero
 * instead of letting a stack trace bury the variable's name. `check` applies the rules between
 * variables (it throws ConfigError).
 */
export function loadConfigOrExit<T>(
  spec: ConfigSpec<T>,
  source: Source = process.env,
  check: (config: T) => void = () => undefined,
): T {
  try {
    const config = loadConfig(spec, source);
    check(config);
    return config;
  } catch (error) {
    if (error instanceof ConfigError) {
      logFatal(error.message);
      process.exit(1);
    }
    throw error;
  }
}
