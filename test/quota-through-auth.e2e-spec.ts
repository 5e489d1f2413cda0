import { DEFAULT_KEY_PREFIX } from '@tally/contracts';
import { DemoOrganization, seedDemoOrganization } from '@tally/database';
import { balanceKeys } from '@tally/redis';
import { createTestContext, expectEventually, startPrivateKafka, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { authEnv, call, openDatabase, quotaEnv, service, verify } from './auth-harness';
import { appUrl, startApp } from './apps';

/**
 * End to end through auth: the gateway's verify call for a metered action is admitted or denied
 * by quota, and the denial reaches the caller unchanged. An org with half an hour left asking for
 * a one-hour sandbox gets 402 and nothing is charged; after a package grant the same call passes,
 * and metering turns quota's provisional hold into a durable one.
 */
/** The sandbox the tests create (and the third extends). */
const SANDBOX = { type: 'sandbox', id: 'SBX-quota-through-auth' };

describe('quota through auth', () => {
  // One test starts a Kafka broker of its own: minutes on a loaded machine.
  jest.setTimeout(300_000);
  let ctx: TestContext;
  let db: DataSource;
  let redis: Redis;
  const apps: NestFastifyApplication[] = [];
  let authUrl: string;
  let meteringUrl: string;
  let demo: DemoOrganization;

  beforeAll(async () => {
    ctx = await createTestContext();
    const env = authEnv(ctx);
    db = await openDatabase(ctx);
    redis = new Redis(ctx.redisUrl);
    demo = await seedDemoOrganization(db, {
      keyPrefix: DEFAULT_KEY_PREFIX,
      pepper: env.API_KEY_PEPPER,
      sandboxMs: 1_800_000n,
      agentMc: 0n,
    });
    // Each app is closed in afterAll even when a later one fails to boot.
    // Generous deadlines: this test is about the decision's path, on a shared machine.
    const quota = await startApp('quota', ctx.env({ ADMISSION_TIMEOUT_MS: '3000', REDIS_TIMEOUT_MS: '2000' }));
    apps.push(quota);
    const metering = await startApp('metering', ctx.env());
    apps.push(metering);
    // auth is wired to quota by configuration alone, as `npm start` and docker-compose do.
    const auth = await startApp('auth', { ...env, ...quotaEnv(appUrl(quota)), QUOTA_TIMEOUT_MS: '2000' });
    apps.push(auth);
    authUrl = appUrl(auth);
    meteringUrl = appUrl(metering);
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    redis?.disconnect();
    await db?.destroy();
    await ctx?.dispose();
  });

  const createSandbox = () =>
    verify(authUrl, {
      key: demo.apiKey,
      action: 'sandbox.create',
      orgId: demo.orgId,
      resource: SANDBOX,
      params: { shape: 'small', maxLifeSeconds: 3600 },
    });
  const charged = async () =>
    db.query(`SELECT entry_type, amount FROM ledger_entries WHERE org_id = $1 AND entry_type <> 'grant' ORDER BY seq`, [
      demo.orgId,
    ]);

  it('refuses a one-hour sandbox with half an hour left: 402 from quota, through auth, nothing charged', async () => {
    const denied = await createSandbox();
    expect(denied.status).toBe(402);
    expect(denied.body).toMatchObject({
      code: 'INSUFFICIENT_SANDBOX_HOURS',
      message: 'sandbox.create needs 1 sandbox hours reserved; 0.5 are available.',
      requestId: expect.any(String),
    });
    expect(await charged()).toEqual([]);
    expect(await db.query('SELECT 1 FROM holds WHERE org_id = $1', [demo.orgId])).toEqual([]);
    expect(await redis.get(balanceKeys(ctx.redisPrefix, demo.orgId).provisionalTotal)).toBeNull();
    const [pkg] = await db.query('SELECT sandbox_ms_remaining FROM packages WHERE org_id = $1', [demo.orgId]);
    expect(pkg.sandbox_ms_remaining).toBe('1800000');
  });

  it('admits the same call after a package grant, and metering makes the hold durable', async () => {
    const granted = await call(meteringUrl, 'POST', `/v1/orgs/${demo.orgId}/packages`, {
      headers: service,
      body: { sandboxHours: '1', agentCredits: '0', source: 'billing', externalId: `top-up-${demo.orgId}` },
    });
    expect(granted.status).toBe(201);

    const allowed = await expectEventually(async () => {
      const answer = await createSandbox();
      expect(answer.status).toBe(200);
      return answer;
    }, 10_000);
    const admissionId = allowed.body.admissionId as string;
    expect(allowed.body).toMatchObject({ allowed: true, orgId: demo.orgId, admissionId: expect.any(String) });

    // The verified event carries the admission id: metering places the durable hold and settles
    // quota's provisional one, so the hour is held exactly once.
    await expectEventually(async () => {
      const holds = await db.query('SELECT admission_id, reserved_ms FROM holds WHERE org_id = $1', [demo.orgId]);
      expect(holds).toEqual([{ admission_id: admissionId, reserved_ms: '3600000' }]);
      expect(await redis.hexists(balanceKeys(ctx.redisPrefix, demo.orgId).provisional, admissionId)).toBe(0);
    }, 30_000);
    expect(await redis.hget(balanceKeys(ctx.redisPrefix, demo.orgId).balance, 'held_ms')).toBe('3600000');

    // 1.5 h granted, 1 h held: the next one-hour sandbox does not fit.
    const next = await createSandbox();
    expect(next.status).toBe(402);
    expect(next.body).toMatchObject({ message: expect.stringContaining('0.5 are available') });
  });

  it("releases quota's provisional hold when Kafka does not acknowledge the metered event (503)", async () => {
    // A second auth on a Kafka of this test's own, frozen once auth is up: quota admits, the
    // verified event is never acknowledged, and the action is refused (failed closed).
    const kafka = await startPrivateKafka();
    const stranded = await startApp('auth', {
      ...authEnv(ctx),
      KAFKA_BROKERS: kafka.brokers,
      EVENT_ACK_TIMEOUT_MS: '500',
      ...quotaEnv(appUrl(apps[0])),
      QUOTA_TIMEOUT_MS: '2000',
    }).catch(async (error: unknown) => {
      await kafka.dispose();
      throw error;
    });
    try {
      kafka.freeze();
      const keys = balanceKeys(ctx.redisPrefix, demo.orgId);
      const heldBefore = Number((await redis.get(keys.provisionalTotal)) ?? '0');
      const refused = await verify(appUrl(stranded), {
        key: demo.apiKey,
        action: 'sandbox.extend',
        orgId: demo.orgId,
        resource: SANDBOX,
        params: { extendSeconds: 60 },
      });
      expect(refused).toMatchObject({ status: 503, body: { code: 'DEPENDENCY_UNAVAILABLE' } });
      // Without the release the minute would stay held until the provisional hold's TTL.
      await expectEventually(async () => {
        expect(Number((await redis.get(keys.provisionalTotal)) ?? '0')).toBe(heldBefore);
      }, 5_000);
    } finally {
      kafka.thaw();
      await stranded.close();
      await kafka.dispose();
    }
  });
});
