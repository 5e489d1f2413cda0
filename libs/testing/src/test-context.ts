import { createDataSource, runMigrations } from '@tally/database';
import { Client } from 'pg';
import { ulid } from 'ulid';

export interface TestContext {
  /** Unique per test file and run: names its database, topics, group ids and Redis keys. */
  id: string;
  databaseUrl: string;
  redisUrl: string;
  kafkaBrokers: string;
  topicPrefix: string;
  redisPrefix: string;
  /** Environment for an app booted in this context. */
  env(extra?: Record<string, string>): Record<string, string>;
  dispose(): Promise<void>;
}

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through jest (global setup resolves services)`);
  return value;
}

const withDatabase = (url: string, database: string) => {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
};

/**
 * Isolated state for one test file: its own PostgreSQL database (migrated), topic prefix and
 * Redis key prefix, so files run in parallel and re-run without any cleanup.
 */
export async function createTestContext(): Promise<TestContext> {
  const id = ulid().toLowerCase();
  const baseUrl = requireEnv('DATABASE_URL');
  const database = `tally_t_${id}`;
  const admin = new Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  const databaseUrl = withDatabase(baseUrl, database);
  const dataSource = await createDataSource({ url: databaseUrl, poolSize: 2 }).initialize();
  await runMigrations(dataSource);
  await dataSource.destroy();

  const context: TestContext = {
    id,
    databaseUrl,
    redisUrl: requireEnv('REDIS_URL'),
    kafkaBrokers: requireEnv('KAFKA_BROKERS'),
    topicPrefix: `t${id}.`,
    redisPrefix: `t${id}:`,
    env: (extra = {}) => ({
      DATABASE_URL: databaseUrl,
      REDIS_URL: context.redisUrl,
      KAFKA_BROKERS: context.kafkaBrokers,
      KAFKA_TOPIC_PREFIX: context.topicPrefix,
      REDIS_KEY_PREFIX: context.redisPrefix,
      SERVICE_TOKENS: 'test-service-token',
      API_KEY_PEPPER: 'test-pepper-test-pepper-test-pepper-0123',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      HOST: '127.0.0.1',
      PORT: '0',
      ...extra,
    }),
    async dispose() {
      // Best effort: a leftover database costs disk, never correctness (names are unique).
      const client = new Client({ connectionString: baseUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
      await client.end();
    },
  };
  return context;
}
