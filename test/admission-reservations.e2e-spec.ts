import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DEFAULT_KEY_PREFIX } from '@tally/contracts';
import { DemoOrganization, seedDemoOrganization } from '@tally/database';
import { balanceKeys } from '@tally/redis';
import { createTestContext, TestContext } from '@tally/testing';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { appUrl, startApp } from './apps';
import { authEnv, openDatabase, quotaEnv, verify } from './auth-harness';

/**
 * What quota reserves, end to end through auth, quota and metering on real Kafka, PostgreSQL and
 * Redis (issue 10, items 6, 7 and 10):
 * - item 10: sandbox.create, extend and delete must name their sandbox (400 naming resource.id),
 *   so a create is never held under its admission id beside its runtime's sandbox id.
 */
describe('admission reservations', () => {
  jest.setTimeout(300_000);
  let ctx: TestContext;
  let db: DataSource;
  let redis: Redis;
  const apps: NestFastifyApplication[] = [];
  let authUrl: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    db = await openDatabase(ctx);
    redis = new Redis(ctx.redisUrl);
    // Generous deadlines: these tests are about decisions, on a shared 2-core machine.
    const quota = await startApp('quota', ctx.env({ ADMISSION_TIMEOUT_MS: '3000', REDIS_TIMEOUT_MS: '2000' }));
    apps.push(quota);
    apps.push(await startApp('metering', ctx.env()));
    const auth = await startApp('auth', { ...authEnv(ctx), ...quotaEnv(appUrl(quota)), QUOTA_TIMEOUT_MS: '3000' });
    apps.push(auth);
    authUrl = appUrl(auth);
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    redis?.disconnect();
    await db?.destroy();
    await ctx?.dispose();
  });

  const newOrg = (sandboxMs: bigint, agentMc: bigint): Promise<DemoOrganization> =>
    seedDemoOrganization(db, {
      keyPrefix: DEFAULT_KEY_PREFIX,
      pepper: authEnv(ctx).API_KEY_PEPPER,
      sandboxMs,
      agentMc,
    });

  it.each([
    ['sandbox.create', { shape: 'small', maxLifeSeconds: 600 }],
    ['sandbox.extend', { extendSeconds: 600 }],
    ['sandbox.delete', {}],
  ])('item 10: %s without resource.id answers 400 naming resource.id, and nothing is held', async (action, params) => {
    const org = await newOrg(36_000_000n, 0n);
    const refused = await verify(authUrl, { key: org.apiKey, action, orgId: org.orgId, params });
    expect(refused).toMatchObject({
      status: 400,
      body: {
        code: 'INVALID_REQUEST',
        field: 'resource.id',
        message: expect.stringContaining('must name its sandbox'),
        requestId: expect.any(String),
      },
    });
    expect(await redis.get(balanceKeys(ctx.redisPrefix, org.orgId).provisionalTotal)).toBeNull();
    expect(await db.query('SELECT 1 FROM holds WHERE org_id = $1', [org.orgId])).toEqual([]);
  });
});
