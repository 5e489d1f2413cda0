import { Action, creditsToMilli, isAction } from '@tally/contracts';
import {
  checkServiceCredentials,
  commonEnv,
  ConfigError,
  env,
  EnvVar,
  kafkaEnv,
  loadConfigOrExit,
} from '@tally/platform';
import { opsEnv } from '../ops/ops.config';

/** `agent.run=1,sandbox.preview=0.01`: actions that cost a fixed number of agent credits. */
const fixedCosts = (fallback: string): EnvVar<Map<Action, bigint>> => ({
  describe: 'fixed agent-credit cost per action, e.g. agent.run=1',
  parse(raw, name) {
    const text = raw?.trim() ? raw : fallback;
    const costs = new Map<Action, bigint>();
    for (const pair of text
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean)) {
      const [action, credits] = pair.split('=');
      if (!isAction(action)) throw new ConfigError(name, `names an unknown action ${JSON.stringify(action)}`);
      try {
        costs.set(action, creditsToMilli(credits ?? '', name));
      } catch (error) {
        throw new ConfigError(name, (error as Error).message);
      }
    }
    return costs;
  },
});

export const meteringEnv = {
  ...commonEnv,
  ...kafkaEnv,
  ...opsEnv,
  PORT: env.int('HTTP port', 3002, 0, 65535),
  ACTION_FIXED_COSTS: fixedCosts('agent.run=1'),
  MIGRATE_ON_START: env.oneOf('apply pending migrations at start', ['true', 'false'] as const, 'true'),
  HOLD_GRACE_SECONDS: env.int('how long after its planned end an unreleased hold expires', 300, 0, 86_400),
  EXPIRY_INTERVAL_MS: env.int('period of the package/hold expiry job (0 = off)', 30_000, 0, 3_600_000),
  EXPIRY_LATENESS_SECONDS: env.int(
    'how long after its notAfter a package is forfeited: a report dated before notAfter arriving within it still draws from the package',
    300,
    0,
    86_400,
  ),
  BALANCE_REFRESH_INTERVAL_MS: env.int(
    'period of the retry of Redis refreshes a grant or expiry could not make (0 = off)',
    1_000,
    0,
    600_000,
  ),
  OUTBOX_RELAY: env.oneOf('relay the outbox to Kafka from this instance', ['true', 'false'] as const, 'true'),
  OUTBOX_POLL_MS: env.int('outbox relay poll period when idle', 250, 10, 60_000),
  CONSUMER_CONCURRENCY: env.int('ledger transactions (consumer batches) posted concurrently', 4, 1, 64),
  CONSUMER_BATCH_EVENTS: env.int(
    'events per ledger transaction: the partition batches of a fetch are combined up to about this many',
    2_000,
    1,
    100_000,
  ),
  CONSUMER_MAX_BYTES_PER_PARTITION: env.int("largest fetch per partition (bounds a partition's share)", 524_288, 1_024),
  // A whole fetch is decoded and held until its last transaction commits: this bounds the live
  // heap (the size chosen: docs/BENCHMARKS.md, pipeline, Memory).
  CONSUMER_MAX_BYTES: env.int('largest fetch in total (bounds the events in memory at once)', 4_194_304, 1_024),
  CONSUMER_SESSION_TIMEOUT_MS: env.int('consumer group session timeout', 30_000, 6_000, 300_000),
  CONSUMER_MAX_BACKOFF_MS: env.int('longest pause between retries of a failing batch', 5_000, 10, 600_000),
};

export type MeteringConfig = { [K in keyof typeof meteringEnv]: ReturnType<(typeof meteringEnv)[K]['parse']> };

/** Rules between variables: the credentials metering accepts, and its own towards auth. */
export function checkMeteringConfig(config: MeteringConfig): MeteringConfig {
  checkServiceCredentials(config, { AUTH_SERVICE_TOKEN: config.AUTH_SERVICE_TOKEN });
  return config;
}

export const loadMeteringConfig = (source: Record<string, string | undefined> = process.env): MeteringConfig =>
  loadConfigOrExit(meteringEnv, source, (config) => checkMeteringConfig(config as MeteringConfig)) as MeteringConfig;
