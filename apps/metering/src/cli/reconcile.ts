/* `npm run reconcile [-- --org ORG-...] [--fix]`: checks the ledger invariant and Redis against
 * PostgreSQL for all organizations or one; prints a JSON report; exits 1 while drift remains. */
import 'reflect-metadata';
import { commonEnv, loadConfigOrExit } from '@tally/platform';
import { createDataSource } from '@tally/database';
import { BalanceCache, createRedis } from '@tally/redis';
import { reconcile } from '../reconcile/reconcile';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const orgIndex = args.indexOf('--org');
  const orgId = orgIndex >= 0 ? args[orgIndex + 1] : undefined;
  const fix = args.includes('--fix');
  const { DATABASE_URL, REDIS_URL, REDIS_KEY_PREFIX } = loadConfigOrExit(
    {
      DATABASE_URL: commonEnv.DATABASE_URL,
      REDIS_URL: commonEnv.REDIS_URL,
      REDIS_KEY_PREFIX: commonEnv.REDIS_KEY_PREFIX,
    },
    process.env,
  );
  const db = await createDataSource({
    url: DATABASE_URL,
    poolSize: 2,
    applicationName: 'tally-reconcile',
  }).initialize();
  const redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 5_000 });
  try {
    const report = await reconcile(db, redis, new BalanceCache(redis, REDIS_KEY_PREFIX), { orgId, fix });
    const json = (value: unknown) => JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
    console.log(
      json({
        orgs: report.orgs,
        invariantViolations: report.invariant,
        redisDrift: report.drift,
        redisMissing: report.missing.length,
        fixed: fix,
      }),
    );
    const unresolved = report.invariant.length + (fix ? 0 : report.drift.length);
    console.error(
      `reconcile: ${report.orgs} orgs, ${report.invariant.length} invariant violations, ${report.drift.length} drifted, ${report.missing.length} missing in redis${fix ? ' (redis repaired)' : ''}`,
    );
    process.exitCode = unresolved > 0 ? 1 : 0;
  } finally {
    await db.destroy();
    redis.disconnect();
  }
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(2);
});
