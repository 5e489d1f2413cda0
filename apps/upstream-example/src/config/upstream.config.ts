import { authWorstCaseMs } from '@tally/contracts';
import { env, loadConfigOrExit } from '@tally/platform';

/** The example upstream service: where auth is, and the credential it presents to auth. */
export const upstreamEnv = {
  HOST: env.string('address to listen on', '127.0.0.1'),
  PORT: env.int('HTTP port', 3010, 0, 65535),
  LOG_LEVEL: env.oneOf(
    'pino log level',
    ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const,
    'info',
  ),
  AUTH_URL: env.url("auth's base URL", ['http', 'https']),
  AUTH_SERVICE_TOKEN: env.string("this service's credential for auth's verify (x-service-token)"),
  // Auth's worst case for a metered action (its Kafka ack + quota timeouts + a margin): giving up
  // sooner would leave auth deciding for a caller that is gone.
  AUTH_TIMEOUT_MS: env.int(
    'longest wait for a verify answer before failing closed (default: auth worst case)',
    authWorstCaseMs(),
    1,
    60_000,
  ),
  // Usage reporting (libs/usage-reporter): off while KAFKA_BROKERS is empty.
  KAFKA_BROKERS: env.list('Kafka brokers the usage reports go to (empty: usage not reported)', []),
  KAFKA_TOPIC_PREFIX: env.string('prefix of the usage topics (tests)', ''),
  USAGE_SOURCE: env.string('CloudEvents source of the usage reports', '//upstream-example/runtime'),
};

export type UpstreamConfig = { [K in keyof typeof upstreamEnv]: ReturnType<(typeof upstreamEnv)[K]['parse']> };

export const loadUpstreamConfig = (source: Record<string, string | undefined> = process.env): UpstreamConfig =>
  loadConfigOrExit(upstreamEnv, source) as UpstreamConfig;
