import { createDataSource, grantPackage, OrganizationEntity } from '@tally/database';
import { balanceKeys } from '@tally/redis';
import { createTestContext, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { appUrl, startApp } from './apps';

const HOUR_MS = 3_600_000n;

/** A catalog made for the races: generous rate limits, and one plan whose limit is exactly 37. */
const CATALOG = {
  shapes: [
    { name: 'small', pricePerHour: '1', requiredPlanTier: 0 },
    { name: 'gpu', pricePerHour: '12.5', requiredPlanTier: 2 },
  ],
  plans: [
    {
      name: 'free',
      tier: 0,
      concurrentSandboxes: 2,
      sandboxHoursIncludedPerMonth: '10',
      agentCreditsIncludedPerMonth: '100',
      orgRequestsPerSecond: 5,
      keyRequestsPerSecond: 3,
    },
    {
      name: 'enterprise',
      tier: 2,
      concurrentSandboxes: 100_000,
      sandboxHoursIncludedPerMonth: '5000',
      agentCreditsIncludedPerMonth: '100000',
      orgRequestsPerSecond: 100_000,
      keyRequestsPerSecond: 100_000,
    },
    {
      name: 'race37',
      tier: 2,
      concurrentSandboxes: 37,
      sandboxHoursIncludedPerMonth: '0',
      agentCreditsIncludedPerMonth: '0',
      orgRequestsPerSecond: 100_000,
      keyRequestsPerSecond: 100_000,
    },
  ],
};

/**
 * Admission over HTTP against real PostgreSQL and Redis: the races of the acceptance criteria
 * (exactly 37 of 200 concurrent creates, for the balance and for the concurrency limit, 20 times
 * each), idempotency, release, every denial code, and a cold cache loaded from PostgreSQL.
 */
describe('quota admissions', () => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let db: DataSource;
  let redis: Redis;
  let url: string;
  const service = { 'content-type': 'application/json', 'x-service-token': 'test-service-token' };

  beforeAll(async () => {
    ctx = await createTestContext();
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    redis = new Redis(ctx.redisUrl);
    // Generous deadlines: these tests are about decisions, on a shared 2-core machine; the
    // deadline itself is tested in quota-redis-outage.
    app = await startApp(
      'quota',
      ctx.env({
        CATALOG_SOURCE: 'config',
        CATALOG_JSON: JSON.stringify(CATALOG),
        ADMISSION_TIMEOUT_MS: '3000',
        REDIS_TIMEOUT_MS: '2000',
      }),
    );
    url = appUrl(app);
  });

  afterAll(async () => {
    await app?.close();
    await db?.destroy();
    redis?.disconnect();
    await ctx?.dispose();
  });

  async function org(plan: string, sandboxMs: bigint, agentMc = 0n): Promise<string> {
    const orgId = `ORG-${ulid()}`;
    await db.getRepository(OrganizationEntity).insert({ id: orgId, name: 'quota test', plan });
    if (sandboxMs > 0n || agentMc > 0n) {
      await grantPackage(db, { orgId, sandboxMs, agentMc, source: 'test', externalId: `seed-${orgId}` });
    }
    return orgId;
  }

  const admit = (body: Record<string, unknown>) =>
    fetch(`${url}/v1/admissions`, {
      method: 'POST',
      headers: service,
      body: JSON.stringify({ keyId: 'key1', admissionId: ulid(), ...body }),
    });
  const create = (orgId: string, extra: Record<string, unknown> = {}) =>
    admit({ orgId, action: 'sandbox.create', params: { shape: 'small', maxLifeSeconds: 3600 }, ...extra });

  async function race(orgId: string): Promise<number[]> {
    const responses = await Promise.all(Array.from({ length: 200 }, () => create(orgId)));
    await Promise.all(responses.map((response) => response.arrayBuffer()));
    return responses.map((response) => response.status);
  }

  it('admits exactly 37 of 200 concurrent creates when the balance fits 37, in each of 20 runs', async () => {
    for (let run = 0; run < 20; run++) {
      // 37 hours and a bit: the 38th create is short by one millisecond.
      const orgId = await org('enterprise', 38n * HOUR_MS - 1n);
      const statuses = await race(orgId);
      expect({ run, admitted: statuses.filter((s) => s === 200).length }).toEqual({ run, admitted: 37 });
      expect(statuses.filter((s) => s !== 200).every((s) => s === 402)).toBe(true);
      expect(await redis.get(balanceKeys(ctx.redisPrefix, orgId).provisionalTotal)).toBe(String(37n * HOUR_MS));
    }
  });

  it('admits exactly 37 of 200 concurrent creates when the plan allows 37 sandboxes, in each of 20 runs', async () => {
    for (let run = 0; run < 20; run++) {
      const orgId = await org('race37', 1_000n * HOUR_MS);
      const statuses = await race(orgId);
      expect({ run, admitted: statuses.filter((s) => s === 200).length }).toEqual({ run, admitted: 37 });
      expect(statuses.filter((s) => s !== 200).every((s) => s === 429)).toBe(true);
    }
  });

  it('answers the same admission twice with one hold and the same answer; a reused id for another request conflicts', async () => {
    const orgId = await org('enterprise', 10n * HOUR_MS);
    const admissionId = ulid();
    const first = await create(orgId, { admissionId });
    const second = await create(orgId, { admissionId });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    const [a, b] = [(await first.json()) as Record<string, unknown>, await second.json()];
    expect(a).toMatchObject({ admitted: true, reservedMs: '3600000', reservedHours: '1', replay: false });
    expect(b).toMatchObject({ ...a, replay: true });
    expect(await redis.hlen(balanceKeys(ctx.redisPrefix, orgId).provisional)).toBe(1);
    const balance = await fetch(`${url}/v1/orgs/${orgId}/balances`, { headers: service });
    expect(await balance.json()).toMatchObject({
      sandboxHours: '10',
      heldMs: '0',
      provisionalMs: '3600000',
      availableSandboxHours: '9',
    });

    const other = await admit({
      orgId,
      admissionId,
      action: 'sandbox.create',
      params: { shape: 'small', maxLifeSeconds: 60 },
    });
    expect(other.status).toBe(409);
    expect(await other.json()).toMatchObject({ code: 'CONFLICT', requestId: expect.any(String) });
    // The same id naming another sandbox is another request too (a retry must name the sandbox it named).
    const named = (id: string) =>
      create(orgId, { admissionId: `${admissionId}-named`, resource: { type: 'sandbox', id } });
    expect((await named('SBX-A')).status).toBe(200);
    expect((await named('SBX-A')).status).toBe(200);
    expect((await named('SBX-B')).status).toBe(409);
  });

  it('releases a provisional hold, idempotently, and a released admission cannot hold again', async () => {
    const orgId = await org('enterprise', 1n * HOUR_MS);
    const admissionId = ulid();
    expect((await create(orgId, { admissionId })).status).toBe(200);
    expect((await create(orgId)).status).toBe(402);

    const release = () =>
      fetch(`${url}/v1/admissions/${admissionId}?orgId=${orgId}`, {
        method: 'DELETE',
        headers: { 'x-service-token': service['x-service-token'] },
      });
    const released = await release();
    expect(released.status).toBe(200);
    expect(await released.json()).toEqual({ admissionId, orgId, releasedMs: '3600000', releasedAgentMc: '0' });
    expect(await (await release()).json()).toMatchObject({ releasedMs: '0' });

    expect((await create(orgId, { admissionId })).status).toBe(409);
    expect((await create(orgId)).status).toBe(200);
  });

  it('says how much is available when sandbox hours are short, and holds nothing', async () => {
    const orgId = await org('enterprise', HOUR_MS / 2n);
    const response = await create(orgId);
    expect(response.status).toBe(402);
    expect(await response.json()).toMatchObject({
      code: 'INSUFFICIENT_SANDBOX_HOURS',
      message: 'sandbox.create needs 1 sandbox hours reserved; 0.5 are available.',
    });
    expect(await redis.get(balanceKeys(ctx.redisPrefix, orgId).provisionalTotal)).toBeNull();
  });

  it('prices the reservation by shape and refuses a shape above the plan tier', async () => {
    const rich = await org('enterprise', 100n * HOUR_MS);
    const gpu = await admit({ orgId: rich, action: 'sandbox.create', params: { shape: 'gpu', maxLifeSeconds: 3600 } });
    expect(await gpu.json()).toMatchObject({ admitted: true, reservedMs: '45000000', reservedHours: '12.5' });

    const poor = await org('free', 100n * HOUR_MS);
    const denied = await admit({ orgId: poor, action: 'sandbox.create', params: { shape: 'gpu', maxLifeSeconds: 60 } });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ code: 'PLAN_TIER_TOO_LOW' });
    const unknown = await admit({ orgId: poor, action: 'sandbox.create', params: { shape: 'huge' } });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ code: 'INVALID_REQUEST', field: 'params.shape' });
    // What metering needs to place the durable hold is required here too.
    const noShape = await admit({ orgId: rich, action: 'sandbox.create', params: { maxLifeSeconds: 60 } });
    expect(await noShape.json()).toMatchObject({
      code: 'INVALID_REQUEST',
      field: 'params.shape',
      message: 'params.shape is required for sandbox.create.',
    });
    const noLife = await admit({ orgId: rich, action: 'sandbox.create', params: { shape: 'small' } });
    expect(noLife.status).toBe(400);
    expect(await noLife.json()).toMatchObject({ field: 'params.maxLifeSeconds' });
  });

  it('reserves an extension without counting it as a new sandbox', async () => {
    const orgId = await org('free', 3n * HOUR_MS);
    expect((await create(orgId, { resource: { type: 'sandbox', id: 'sbx-a' } })).status).toBe(200);
    expect((await create(orgId)).status).toBe(200);
    const third = await create(orgId);
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('5');
    expect(await third.json()).toMatchObject({ code: 'CONCURRENT_SANDBOX_LIMIT' });
    const extend = await admit({
      orgId,
      action: 'sandbox.extend',
      keyId: 'key2',
      // Priced by the create quota admitted for sbx-a (metering has no hold for it yet).
      resource: { type: 'sandbox', id: 'sbx-a' },
      params: { extendSeconds: 1800 },
    });
    expect(await extend.json()).toMatchObject({ admitted: true, reservedMs: '1800000' });
  });

  it('reserves the configured fixed cost of agent.run', async () => {
    const empty = await org('enterprise', HOUR_MS, 999n);
    const denied = await admit({ orgId: empty, action: 'agent.run' });
    expect(denied.status).toBe(402);
    expect(await denied.json()).toMatchObject({
      code: 'INSUFFICIENT_AGENT_CREDITS',
      message: 'agent.run reserves 1 agent credits; 0.999 are available.',
    });
    const funded = await org('enterprise', 0n, 1_000n);
    expect(await (await admit({ orgId: funded, action: 'agent.run' })).json()).toMatchObject({
      admitted: true,
      reservedMs: '0',
      reservedAgentMc: '1000',
      holdExpiresAt: expect.any(String),
    });
    // The credit is reserved: a second run finds none left (issue 10 item 6).
    expect((await admit({ orgId: funded, action: 'agent.run' })).status).toBe(402);
  });

  it('rate-limits per API key and per organization with Retry-After', async () => {
    // free: 3 requests per second per key, 5 per organization; 20 at once cannot all pass.
    const burst = async (orgId: string, keyId: (i: number) => string) => {
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) => admit({ orgId, action: 'sandbox.list', keyId: keyId(i) })),
      );
      const bodies = await Promise.all(responses.map((r) => r.json() as Promise<Record<string, unknown>>));
      return responses.map((response, i) => ({
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        body: bodies[i],
      }));
    };
    const oneKey = await burst(await org('free', 0n), () => 'k-a');
    const keyLimited = oneKey.filter((answer) => answer.status === 429);
    expect(oneKey.filter((answer) => answer.status === 200).length).toBeGreaterThanOrEqual(3);
    expect(keyLimited.length).toBeGreaterThanOrEqual(10);
    expect(keyLimited[0]).toMatchObject({
      retryAfter: '1',
      body: { code: 'RATE_LIMITED', message: expect.stringContaining('API key') },
    });

    const manyKeys = await burst(await org('free', 0n), (i) => `k-${i}`);
    const orgLimited = manyKeys.filter((answer) => answer.status === 429);
    expect(orgLimited.length).toBeGreaterThanOrEqual(10);
    expect(orgLimited[0]).toMatchObject({
      retryAfter: '1',
      body: { code: 'RATE_LIMITED', message: expect.stringContaining('organization') },
    });
  });

  it('loads a cold cache from PostgreSQL and decides on it', async () => {
    const orgId = await org('enterprise', 2n * HOUR_MS);
    const keys = balanceKeys(ctx.redisPrefix, orgId);
    expect(await redis.exists(keys.balance)).toBe(0);
    expect((await create(orgId)).status).toBe(200);
    expect(await redis.hget(keys.balance, 'sandbox_ms')).toBe(String(2n * HOUR_MS));
    await redis.del(keys.balance);
    expect((await create(orgId)).status).toBe(200);
    expect((await create(orgId)).status).toBe(402);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/quota_cold_loads_total\{service="quota"\} [1-9]/);
    expect(metrics).toMatch(
      /quota_admissions_total\{action="sandbox.create",outcome="INSUFFICIENT_SANDBOX_HOURS",service="quota"\} [1-9]/,
    );
  });

  it('rebuilds running sandboxes and durable holds from PostgreSQL after a Redis loss', async () => {
    const orgId = await org('free', 2n * HOUR_MS);
    // Two sandboxes running (metering's durable holds), 1.5 h reserved, 0.25 h of it captured.
    for (const [sandboxId, reserved, captured] of [
      ['sbx-1', 3_600_000, 900_000],
      ['sbx-2', 1_800_000, 0],
    ] as const) {
      await db.query(
        `INSERT INTO holds (org_id, sandbox_id, shape, price_per_hour, admission_id, reserved_ms, captured_ms,
                            status, expires_at, version)
         VALUES ($1, $2, 'small', '1', NULL, $3, $4, 'active', now() + interval '1 hour', 1)`,
        [orgId, sandboxId, reserved, captured],
      );
    }
    // Nothing of this org in Redis (as after a restart): the first decision loads it.
    expect(await redis.exists(balanceKeys(ctx.redisPrefix, orgId).balance)).toBe(0);
    const third = await create(orgId);
    expect(third.status).toBe(429);
    expect(await third.json()).toMatchObject({
      code: 'CONCURRENT_SANDBOX_LIMIT',
      message: 'Plan free allows 2 concurrent sandboxes; 2 are running and 0 starting.',
    });
    const extend = await admit({
      orgId,
      action: 'sandbox.extend',
      resource: { type: 'sandbox', id: 'sbx-1' },
      params: { extendSeconds: 3600 },
    });
    expect(extend.status).toBe(402);
    // 2 h - (1 h - 0.25 h) - 0.5 h held = 0.75 h.
    expect(await extend.json()).toMatchObject({
      message: 'sandbox.extend needs 1 sandbox hours reserved; 0.75 are available.',
    });
  });

  it('documents the admission endpoints in OpenAPI, error statuses included', async () => {
    const document = (await (await fetch(`${url}/docs/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(Object.keys(document.paths['/v1/admissions'].post.responses).sort()).toEqual(
      ['200', '400', '401', '402', '403', '404', '409', '429', '503'].sort(),
    );
    expect(document.paths['/v1/admissions/{admissionId}'].delete.responses).toHaveProperty('200');
  });

  it('answers 404 for an organization PostgreSQL does not know and 400 for a malformed request', async () => {
    const missing = await create(`ORG-${ulid()}`);
    expect(missing.status).toBe(404);
    const malformed = await admit({ orgId: 'nope', action: 'sandbox.create' });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 'INVALID_REQUEST', field: 'orgId' });
    const unauthenticated = await fetch(`${url}/v1/admissions`, { method: 'POST', body: '{}' });
    expect(unauthenticated.status).toBe(401);
  });
});
