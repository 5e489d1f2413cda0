import { createDataSource } from '@tally/database';
import { createKafka } from '@tally/kafka';
import { createTestContext, expectEventually, PrivateRedis, startPrivateRedis, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { processedCount, publishAll, seedOrg, SERVICE_HEADERS } from './metering-harness';
import { appUrl, startApp } from './apps';
import { metric } from './auth-harness';
import { agentUsageAt } from './ops-harness';

/**
 * Time moves balances (issue 10, items 5 and 8), end to end on real Kafka, PostgreSQL and Redis:
 * - a package admits from its `notBefore` and stops at its `notAfter`, to the second, with no
 *   other event (the Redis snapshot carries when it stops being true; quota reloads past it);
 * - a grant whose Redis refresh failed reaches Redis once Redis is back (the refresh is durable);
 * - a report dated before `notAfter` that arrives after it, inside the lateness bound, draws from
 *   that package, and the forfeit is computed after it.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every 100 ms until it answers `status`; the time it first did, or null by `deadline`. */
async function firstTimeStatus(probe: () => Promise<number>, status: number, deadline: number): Promise<number | null> {
  while (Date.now() < deadline) {
    if ((await probe()) === status) return Date.now();
    await sleep(100);
  }
  return null;
}

async function startQuota(ctx: TestContext, extra: Record<string, string> = {}) {
  return startApp('quota', ctx.env({ ADMISSION_TIMEOUT_MS: '3000', REDIS_TIMEOUT_MS: '2000', ...extra }));
}

const admitAgentRun = async (quotaUrl: string, orgId: string): Promise<number> => {
  const response = await fetch(`${quotaUrl}/v1/admissions`, {
    method: 'POST',
    headers: SERVICE_HEADERS,
    body: JSON.stringify({ keyId: 'key1', admissionId: ulid(), orgId, action: 'agent.run' }),
  });
  await response.arrayBuffer();
  return response.status;
};

const grant = async (meteringUrl: string, orgId: string, body: Record<string, unknown>) => {
  const response = await fetch(`${meteringUrl}/v1/orgs/${orgId}/packages`, {
    method: 'POST',
    headers: SERVICE_HEADERS,
    body: JSON.stringify({ source: 'test', externalId: ulid(), sandboxHours: '0', ...body }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string };
};

describe('time-aware balances', () => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let db: DataSource;
  const apps: NestFastifyApplication[] = [];
  let meteringUrl: string;
  let quotaUrl: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    // No expiry run at all: only time changes the answers below.
    const metering = await startApp('metering', ctx.env({ EXPIRY_INTERVAL_MS: '0' }));
    apps.push(metering);
    meteringUrl = appUrl(metering);
    const quota = await startQuota(ctx);
    apps.push(quota);
    quotaUrl = appUrl(quota);
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await db?.destroy();
    await ctx?.dispose();
  });

  it('admits from a package its notBefore, within a second, with no other event', async () => {
    const orgId = await seedOrg(db);
    expect(await admitAgentRun(quotaUrl, orgId)).toBe(402); // cached: nothing to draw from
    const notBefore = Date.now() + 3_000;
    await grant(meteringUrl, orgId, { agentCredits: '100', notBefore: new Date(notBefore).toISOString() });
    expect(await admitAgentRun(quotaUrl, orgId)).toBe(402); // granted, not active yet
    const admitted = await firstTimeStatus(() => admitAgentRun(quotaUrl, orgId), 200, notBefore + 4_000);
    expect(admitted).not.toBeNull();
    expect(admitted! - notBefore).toBeGreaterThanOrEqual(0);
    expect(admitted! - notBefore).toBeLessThan(1_000);
  });

  it('refuses once a package is past its notAfter, within a second, with no expiry run', async () => {
    const orgId = await seedOrg(db);
    const notAfter = Date.now() + 3_000;
    await grant(meteringUrl, orgId, { agentCredits: '100', notAfter: new Date(notAfter).toISOString() });
    expect(await admitAgentRun(quotaUrl, orgId)).toBe(200);
    await sleep(notAfter - Date.now() - 500);
    expect(await admitAgentRun(quotaUrl, orgId)).toBe(200);
    const refused = await firstTimeStatus(() => admitAgentRun(quotaUrl, orgId), 402, notAfter + 4_000);
    expect(refused).not.toBeNull();
    expect(refused! - notAfter).toBeGreaterThanOrEqual(0);
    expect(refused! - notAfter).toBeLessThan(1_000);
    // Nothing was forfeited: the expiry job is off, the answer came from the snapshot's validity.
    expect(
      await db.query(`SELECT 1 FROM ledger_entries WHERE org_id = $1 AND entry_type = 'forfeit'`, [orgId]),
    ).toEqual([]);
  });
});

/** Whether a Redis accepts a connection now (no retries). */
async function reachable(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

describe('durable refreshes and the lateness bound', () => {
  jest.setTimeout(120_000);
  const LATENESS_SECONDS = 6;
  let ctx: TestContext;
  let db: DataSource;
  let redis: PrivateRedis;
  let producer: Producer;
  const apps: NestFastifyApplication[] = [];
  let meteringUrl: string;
  let quotaUrl: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    redis = await startPrivateRedis({ persistent: true }); // keeps its data across a stop
    const onRedis = { REDIS_URL: redis.url };
    const metering = await startApp(
      'metering',
      ctx.env({
        ...onRedis,
        EXPIRY_INTERVAL_MS: '300',
        EXPIRY_LATENESS_SECONDS: String(LATENESS_SECONDS),
        BALANCE_REFRESH_INTERVAL_MS: '500',
      }),
    );
    apps.push(metering);
    meteringUrl = appUrl(metering);
    const quota = await startQuota(ctx, onRedis);
    apps.push(quota);
    quotaUrl = appUrl(quota);
    producer = createKafka('fate-time-test', [ctx.kafkaBrokers]).producer();
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    for (const app of apps) await app.close();
    redis?.stop();
    await db?.destroy();
    await ctx?.dispose();
  });

  it('writes a grant to Redis after its refresh failed (Redis down for the grant, back with the old balance)', async () => {
    const orgId = await seedOrg(db);
    expect(await admitAgentRun(quotaUrl, orgId)).toBe(402); // Redis caches "nothing to draw from"
    redis.stop({ keepData: true });
    await expectEventually(async () => expect(await reachable(redis.url)).toBe(false), 5_000);
    await grant(meteringUrl, orgId, { agentCredits: '100' });
    // The refresh failed and is pending, for the refresher (and the metric) to see.
    await expectEventually(
      async () => expect(await metric(meteringUrl, 'tally_balance_refreshes_pending')).toBe(1),
      10_000,
      250,
    );
    await redis.start(); // with the snapshot from before the grant (append-only file)
    await expectEventually(async () => expect(await admitAgentRun(quotaUrl, orgId)).toBe(200), 15_000, 250);
    await expectEventually(async () => expect(await metric(meteringUrl, 'tally_balance_refreshes_pending')).toBe(0));
    expect(await db.query('SELECT org_id FROM balance_refreshes WHERE org_id = $1', [orgId])).toEqual([]);
  });

  it('draws a late report dated before notAfter from that package; the forfeit comes after it', async () => {
    const orgId = await seedOrg(db);
    const notAfter = Date.now() + 2_000;
    const expiring = await grant(meteringUrl, orgId, {
      agentCredits: '10',
      notAfter: new Date(notAfter).toISOString(),
    });
    const lasting = await grant(meteringUrl, orgId, { agentCredits: '100' });
    // Past notAfter (an expiry run every 300 ms), inside the lateness bound: the report arrives.
    await sleep(notAfter - Date.now() + 1_500);
    const before = await processedCount(db);
    await publishAll(producer, [agentUsageAt(ctx.topicPrefix, orgId, 2_000, new Date(notAfter - 500), ulid())]);
    await expectEventually(async () => expect(await processedCount(db)).toBe(before + 1), 20_000);
    const lines = async () =>
      (await db.query(
        `SELECT package_id, entry_type, amount::text AS amount FROM ledger_entries
          WHERE org_id = $1 AND kind = 'agent' AND entry_type <> 'grant' ORDER BY seq`,
        [orgId],
      )) as { package_id: string; entry_type: string; amount: string }[];
    expect(await lines()).toEqual([{ package_id: expiring.id, entry_type: 'debit', amount: '-2000' }]);
    await expectEventually(
      async () =>
        expect(await lines()).toEqual([
          { package_id: expiring.id, entry_type: 'debit', amount: '-2000' },
          { package_id: expiring.id, entry_type: 'forfeit', amount: '-8000' },
        ]),
      (LATENESS_SECONDS + 10) * 1_000,
      250,
    );
    const [kept] = await db.query('SELECT agent_mc_remaining::text AS left FROM packages WHERE id = $1', [lasting.id]);
    expect(kept.left).toBe('100000');
  });
});
