import { createDataSource, runMigrations } from '@tally/database';
import { createKafka, deleteTopicsWithPrefix } from '@tally/kafka';
import Redis from 'ioredis';
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
  const databaseUrl = await createMigratedDatabase(baseUrl, database);
  const context: TestContext = {
    id,
    databaseUrl,
    redisUrl: requireEnv('REDIS_URL'),
    kafkaBrokers: requireEnv('KAFKA_BROKERS'),
    topicPrefix: `t${id}.`,
    redisPrefix: `t${id}:`,
    env: (extra = {}) => ({ ...appEnv(context), ...extra }),
    async dispose() {
      // Best effort: leftovers cost disk and broker memory, never correctness (names are unique).
      // Topics matter most: a broker that keeps every test run's partitions runs out of heap.
      await deleteTopicsWithPrefix(createKafka('test-cleanup', [context.kafkaBrokers]), context.topicPrefix).catch(
        () => undefined,
      );
      await deleteRedisKeys(context.redisUrl, context.redisPrefix);
      await dropDatabase(baseUrl, database);
    },
  };
  return context;
}

async function createMigratedDatabase(baseUrl: string, database: string): Promise<string> {
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
  return databaseUrl;
}

/** What every app booted in this context needs; a test's extras override it. */
function appEnv(context: TestContext): Record<string, string> {
  return {
    DATABASE_URL: context.databaseUrl,
    REDIS_URL: context.redisUrl,
    KAFKA_BROKERS: context.kafkaBrokers,
    KAFKA_TOPIC_PREFIX: context.topicPrefix,
    REDIS_KEY_PREFIX: context.redisPrefix,
    // The gateway's credential, and auth's own towards quota (auth's harness accepts only the first).
    SERVICE_TOKENS: 'test-service-token,test-auth-to-quota-token',
    // Short test credentials: development rules (a test of the production rules says TALLY_ENV=production).
    TALLY_ENV: 'development',
    API_KEY_PEPPER: 'test-pepper-test-pepper-test-pepper-0123',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    HOST: '127.0.0.1',
    PORT: '0',
  };
}

async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    // Redis may be the thing a test stopped; nothing to clean then.
  } finally {
    redis.disconnect();
  }
}

async function dropDatabase(baseUrl: string, database: string): Promise<void> {
  const client = new Client({ connectionString: baseUrl });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
  await client.end();
}
