import { createDataSource, grantPackage, OrganizationEntity } from '@tally/database';
import {
  createTestContext,
  expectEventually,
  PrivateRedis,
  redisAnswers,
  startPrivateRedis,
  TestContext,
} from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { appUrl, startApp } from './apps';

/**
 * Redis down or slow: admission answers within its deadline (50 ms by default), metered actions
 * fail closed with 503 naming Redis, others fail open; Redis back (empty, without our scripts):
 * quota recovers without a restart. The Redis stopped here is this test's own instance on a spare
 * port, never the shared one.
 */
describe('quota when Redis is down or slow', () => {
  jest.setTimeout(60_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let db: DataSource;
  let redis: PrivateRedis;
  let port: number;
  let url: string;
  let orgId: string;
  const service = { 'content-type': 'application/json', 'x-service-token': 'test-service-token' };

  beforeAll(async () => {
    ctx = await createTestContext();
    redis = await startPrivateRedis({ debug: true });
    port = redis.port;
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    orgId = `ORG-${ulid()}`;
    await db.getRepository(OrganizationEntity).insert({ id: orgId, name: 'outage test', plan: 'enterprise' });
    await grantPackage(db, { orgId, sandboxMs: 100n * 3_600_000n, agentMc: 0n, source: 'test', externalId: orgId });
    // Default deadlines (REDIS_TIMEOUT_MS and ADMISSION_TIMEOUT_MS: 50 ms).
    app = await startApp('quota', ctx.env({ REDIS_URL: `redis://127.0.0.1:${port}` }));
    url = appUrl(app);
  });

  afterAll(async () => {
    await app?.close();
    redis?.stop();
    await db?.destroy();
    await ctx?.dispose();
  });

  async function timed(action: string, params: Record<string, unknown> = {}) {
    const started = performance.now();
    const response = await fetch(`${url}/v1/admissions`, {
      method: 'POST',
      headers: service,
      body: JSON.stringify({ orgId, keyId: 'k1', action, params, admissionId: ulid() }),
    });
    const body = (await response.json()) as Record<string, unknown>;
    return { status: response.status, body, ms: performance.now() - started };
  }
  const create = () => timed('sandbox.create', { shape: 'small', maxLifeSeconds: 600 });

  it('admits while Redis is up', async () => {
    // The first admission of the org loads it from PostgreSQL; on a loaded machine that can take
    // longer than the 50 ms deadline (503), and the load still fills the cache for the retry.
    await expectEventually(async () => expect((await create()).status).toBe(200), 10_000);
    const warm = await create();
    expect(warm.status).toBe(200);
  });

  it('answers 503 within 100 ms while Redis is stopped, failing metered actions closed and others open', async () => {
    redis.stop();
    await expectEventually(async () => expect(await redisAnswers(port)).toBe(false), 5_000);
    // 20 admissions in a row must all answer within 100 ms. A test process shares 2 cores with
    // Kafka, PostgreSQL and the other suites, so a pass that a scheduler stall spoiled is measured
    // again (at most 3 passes); the bound itself is not relaxed.
    let slowest = Number.POSITIVE_INFINITY;
    for (let pass = 1; pass <= 3 && slowest >= 100; pass++) {
      const answers = [];
      for (let i = 0; i < 20; i++) answers.push(await create());
      for (const answer of answers) {
        expect(answer.status).toBe(503);
        expect(answer.body).toMatchObject({
          code: 'DEPENDENCY_UNAVAILABLE',
          message: expect.stringMatching(/Redis.*sandbox\.create failed closed/),
        });
      }
      slowest = Math.max(...answers.map((answer) => answer.ms));
      console.log(
        `Redis stopped, pass ${pass}: 20 admissions answered in ${answers.map((a) => a.ms.toFixed(1)).join(', ')} ms`,
      );
    }
    expect(slowest).toBeLessThan(100);

    const list = await timed('sandbox.list');
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ admitted: true, degraded: expect.stringContaining('failed open') });
  });

  it('recovers without a restart when Redis comes back empty (cold cache, no scripts loaded)', async () => {
    await redis.start();
    await expectEventually(async () => expect((await create()).status).toBe(200), 10_000);
    const answer = await create();
    expect(answer.body).toMatchObject({ admitted: true, reservedMs: '600000' });
  });

  it('answers 503 within 100 ms while Redis is up but too slow', async () => {
    const blocker = new Redis({ port, host: '127.0.0.1' });
    try {
      await blocker.ping();
      // The server stalls for 1 s: every admission meanwhile runs into its 50 ms deadline.
      const sleeping = blocker.call('DEBUG', 'SLEEP', '1');
      const answer = await create();
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE' });
      console.log(`Redis stalled: admission answered in ${answer.ms.toFixed(1)} ms`);
      expect(answer.ms).toBeLessThan(100);
      await sleeping;
    } finally {
      blocker.disconnect();
    }
    await expectEventually(async () => expect((await create()).status).toBe(200), 5_000);
  });

  it('survives a script cache flush (NOSCRIPT falls back to EVAL)', async () => {
    const admin = new Redis({ port, host: '127.0.0.1' });
    try {
      await admin.script('FLUSH');
    } finally {
      admin.disconnect();
    }
    expect((await create()).status).toBe(200);
  });
});
