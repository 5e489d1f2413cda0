import { resolveServices } from './services';

/**
 * Jest global setup: resolves the services once; workers inherit them through the environment.
 * Each test file then isolates itself with `createTestContext`.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.TALLY_SERVICES_RESOLVED) return;
  const services = await resolveServices();
  process.env.KAFKA_BROKERS = services.KAFKA_BROKERS;
  process.env.DATABASE_URL = services.DATABASE_URL;
  process.env.REDIS_URL = services.REDIS_URL;
  process.env.TALLY_SERVICES_RESOLVED = services.origin;
  if (services.stop) (globalThis as Record<string, unknown>).__TALLY_STOP_SERVICES__ = services.stop;
}
