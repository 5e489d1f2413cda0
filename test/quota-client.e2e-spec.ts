import { TallyError } from '@tally/contracts';
import { createDataSource, grantPackage, OrganizationEntity } from '@tally/database';
import { AdmissionClient } from '@tally/quota-client';
import { createTestContext, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createServer, Server } from 'node:http';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { appUrl, startApp } from './apps';

/** The AdmissionClient auth uses, against a real quota: decisions and errors come through intact. */
describe('AdmissionClient against quota', () => {
  jest.setTimeout(60_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let db: DataSource;
  let client: AdmissionClient;
  let orgId: string;
  let silent: Server;

  beforeAll(async () => {
    ctx = await createTestContext();
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    orgId = `ORG-${ulid()}`;
    await db.getRepository(OrganizationEntity).insert({ id: orgId, name: 'client test', plan: 'free' });
    await grantPackage(db, { orgId, sandboxMs: 1_800_000n, agentMc: 0n, source: 'test', externalId: orgId });
    app = await startApp('quota', ctx.env({ ADMISSION_TIMEOUT_MS: '2000', REDIS_TIMEOUT_MS: '2000' }));
    client = new AdmissionClient({
      baseUrl: appUrl(app),
      serviceToken: 'test-service-token',
      timeoutMs: 3_000,
    });
    // A server that never answers: the client's own timeout must cut it off.
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    silent?.closeAllConnections();
    silent?.close();
    await app?.close();
    await db?.destroy();
    await ctx?.dispose();
  });

  it('returns the grant and releases it', async () => {
    const granted = await client.admit({
      orgId,
      keyId: 'k1',
      action: 'sandbox.create',
      params: { shape: 'small', maxLifeSeconds: 600 },
    });
    expect(granted).toMatchObject({ admitted: true, reservedMs: '600000', admissionId: expect.any(String) });
    expect(await client.release(orgId, granted.admissionId)).toMatchObject({ releasedMs: '600000' });
  });

  it('throws quota denials as TallyErrors with code, message and Retry-After', async () => {
    const denial = await client
      .admit({ orgId, keyId: 'k1', action: 'sandbox.create', params: { shape: 'small', maxLifeSeconds: 3600 } })
      .catch((error: unknown) => error);
    expect(denial).toBeInstanceOf(TallyError);
    expect(denial).toMatchObject({
      code: 'INSUFFICIENT_SANDBOX_HOURS',
      status: 402,
      message: 'sandbox.create needs 1 sandbox hours reserved; 0.5 are available.',
    });
    const decision = await client.decide({
      orgId,
      keyId: 'k1',
      action: 'sandbox.create',
      params: { shape: 'gpu', maxLifeSeconds: 60 },
    });
    expect(decision).toMatchObject({ admitted: false, code: 'PLAN_TIER_TOO_LOW' });
    const bad = await client
      .admit({ orgId, keyId: 'k1', action: 'sandbox.create', params: { shape: 'nope' } })
      .catch((e) => e);
    expect(bad).toMatchObject({ code: 'INVALID_REQUEST', details: { field: 'params.shape' } });
  });

  it('passes RATE_LIMITED through with its Retry-After', async () => {
    // The free plan allows 10 requests per second per key: 30 at once cannot all pass.
    const decisions = await Promise.all(
      Array.from({ length: 30 }, () => client.decide({ orgId, keyId: 'k-rate', action: 'sandbox.list' })),
    );
    const limited = decisions.filter((decision) => !decision.admitted);
    expect(limited.length).toBeGreaterThanOrEqual(10);
    expect(limited[0]).toEqual({
      admitted: false,
      code: 'RATE_LIMITED',
      message: expect.stringContaining('API key'),
      retryAfterSeconds: 1,
    });
  });

  it('turns a silent or unreachable quota, or a refused credential, into DEPENDENCY_UNAVAILABLE within its timeout', async () => {
    const address = silent.address() as { port: number };
    const hanging = new AdmissionClient({
      baseUrl: `http://127.0.0.1:${address.port}`,
      serviceToken: 'x',
      timeoutMs: 100,
    });
    const started = performance.now();
    const decision = await hanging.decide({ orgId, keyId: 'k1', action: 'agent.run' });
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(decision).toMatchObject({
      admitted: false,
      code: 'DEPENDENCY_UNAVAILABLE',
      message: expect.stringContaining('100 ms'),
    });

    const refused = new AdmissionClient({ baseUrl: 'http://127.0.0.1:1', serviceToken: 'x', timeoutMs: 500 });
    expect(await refused.decide({ orgId, keyId: 'k1', action: 'agent.run' })).toMatchObject({
      code: 'DEPENDENCY_UNAVAILABLE',
      message: expect.stringContaining('unreachable'),
    });

    const wrongToken = new AdmissionClient({
      baseUrl: appUrl(app),
      serviceToken: 'wrong',
    });
    expect(await wrongToken.decide({ orgId, keyId: 'k1', action: 'agent.run' })).toMatchObject({
      code: 'DEPENDENCY_UNAVAILABLE',
      message: expect.stringContaining('401'),
    });
  });
});
