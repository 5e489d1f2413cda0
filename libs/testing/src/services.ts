import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

export interface ServiceEndpoints {
  KAFKA_BROKERS: string;
  DATABASE_URL: string;
  REDIS_URL: string;
}

const REPO_ROOT = resolve(__dirname, '../../..');
const LOCAL: ServiceEndpoints = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/tally_test',
  REDIS_URL: 'redis://127.0.0.1:6379',
};

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await Promise.race([
      getContainerRuntimeClient(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 5_000)),
    ]);
    return true;
  } catch {
    return false;
  }
}

async function fromTestcontainers(): Promise<ServiceEndpoints & { stop: () => Promise<void> }> {
  const [{ PostgreSqlContainer }, { RedisContainer }, { KafkaContainer }] = await Promise.all([
    import('@testcontainers/postgresql'),
    import('@testcontainers/redis'),
    import('@testcontainers/kafka'),
  ]);
  const [postgres, redis, kafka] = await Promise.all([
    new PostgreSqlContainer('postgres:15-alpine').withDatabase('tally_test').start(),
    new RedisContainer('redis:7-alpine').start(),
    new KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().withExposedPorts(9093).start(),
  ]);
  return {
    DATABASE_URL: postgres.getConnectionUri(),
    REDIS_URL: redis.getConnectionUrl(),
    KAFKA_BROKERS: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
    stop: async () => {
      await Promise.all([postgres.stop(), redis.stop(), kafka.stop()]);
    },
  };
}

/**
 * Where the tests' PostgreSQL, Redis and Kafka are: the environment when it names them; else
 * containers when a Docker engine answers; else this machine's services, started by our scripts.
 */
export async function resolveServices(): Promise<ServiceEndpoints & { origin: string; stop?: () => Promise<void> }> {
  const { KAFKA_BROKERS, DATABASE_URL, REDIS_URL } = process.env;
  if (KAFKA_BROKERS && DATABASE_URL && REDIS_URL)
    return { KAFKA_BROKERS, DATABASE_URL, REDIS_URL, origin: 'environment' };
  if (process.env.TALLY_TEST_DOCKER !== 'false' && (await dockerAnswers())) {
    return { ...(await fromTestcontainers()), origin: 'testcontainers' };
  }
  execFileSync('bash', [resolve(REPO_ROOT, 'scripts/services.sh'), 'ensure'], {
    stdio: 'inherit',
    env: { ...process.env, TALLY_DATABASES: 'tally tally_test' },
  });
  return { ...LOCAL, origin: 'local scripts' };
}
