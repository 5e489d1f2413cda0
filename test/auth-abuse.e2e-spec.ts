import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createTestContext, expectEventually, PrivateRedis, startPrivateRedis, TestContext } from '@tally/testing';
import { Client } from 'pg';
import { KeyCacheService } from './apps';
import {
  bearer,
  call,
  guessFor,
  madeUpKey,
  metric,
  newOrgId,
  newUserId,
  startAuth,
  userToken,
  verify,
} from './auth-harness';

/**
 * Issue 11, findings 1 and 2: someone else's failures never lock a legitimate key out, and junk
 * keys cannot be turned into PostgreSQL load (raced, repeated, or with Redis down).
 */
const LIMITS = { THROTTLE_MAX_FAILURES: '5', THROTTLE_GATEWAY_MAX_FAILURES: '12', THROTTLE_WINDOW_SECONDS: '60' };

async function issueKey(url: string, orgId: string, owner: string): Promise<{ id: string; key: string }> {
  const created = await call(url, 'POST', `/v1/orgs/${orgId}/api-keys`, {
    headers: bearer(owner),
    body: { name: 'k' },
  });
  expect(created.status).toBe(201);
  return created.body as { id: string; key: string };
}

describe('auth under attack: the address throttle never locks a proven key out', () => {
  jest.setTimeout(90_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let url: string;
  const orgId = newOrgId();
  const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);
  let key: { id: string; key: string };
  const ask = (presented: string, sourceAddress?: string) =>
    verify(url, { key: presented, action: 'sandbox.list', orgId, ...(sourceAddress ? { sourceAddress } : {}) });
  const postgresLookups = () => metric(url, 'auth_key_lookups_total', { source: 'postgres' });

  beforeAll(async () => {
    ctx = await createTestContext();
    ({ app, url } = await startAuth(ctx, { ...LIMITS, THROTTLE_GATEWAY_MAX_FAILURES: '100000' }));
    key = await issueKey(url, orgId, owner);
  });

  afterAll(async () => {
    await app?.close();
    await ctx?.dispose();
  });

  it('passes a proven key from a throttled address, cached and uncached; guesses from it stay refused', async () => {
    const address = '198.51.100.20';
    expect((await ask(key.key, address)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await ask(madeUpKey(), address)).body.code).toBe('INVALID_API_KEY');
    expect(await ask(madeUpKey(), address)).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
    expect((await ask(key.key, address)).status).toBe(200); // this instance's cache
    app.get(KeyCacheService).invalidateAll();
    expect((await ask(key.key, address)).status).toBe(200); // Redis
    expect(await ask(madeUpKey(), address)).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
    expect(await ask(guessFor(key.key), address)).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
  });

  it('groups IPv6 addresses by /64', async () => {
    for (let i = 1; i <= 5; i++) expect((await ask(madeUpKey(), `2001:db8:7:1::${i}`)).status).toBe(401);
    expect((await ask(madeUpKey(), '2001:db8:7:1:ffff:1:2:3')).status).toBe(429);
    expect((await ask(madeUpKey(), '2001:db8:7:2::1')).status).toBe(401);
    expect((await ask(key.key, '2001:db8:7:1::99')).status).toBe(200);
  });

  it('counts uses of a revoked key apart from guesses: they never throttle their address', async () => {
    const revokedKey = await issueKey(url, orgId, owner);
    const revoke = await call(url, 'DELETE', `/v1/orgs/${orgId}/api-keys/${revokedKey.id}`, { headers: bearer(owner) });
    expect(revoke.status).toBe(204);
    const revokedBefore = await metric(url, 'auth_verify_failures_total', { kind: 'revoked' });
    const address = '198.51.100.30';
    for (let i = 0; i < 12; i++) {
      expect(await ask(revokedKey.key, address)).toMatchObject({ status: 401, body: { code: 'API_KEY_REVOKED' } });
    }
    expect((await ask(madeUpKey(), address)).body.code).toBe('INVALID_API_KEY');
    expect(await metric(url, 'auth_verify_failures_total', { kind: 'revoked' })).toBe(revokedBefore + 12);
  });

  it('lets at most the limit of concurrent guesses from one address reach PostgreSQL', async () => {
    const before = await postgresLookups();
    const answers = await Promise.all(Array.from({ length: 40 }, () => ask(madeUpKey(), '198.51.100.40')));
    expect(answers.filter((a) => a.status === 401).length).toBe(5);
    expect(answers.filter((a) => a.status === 429).length).toBe(35);
    expect((await postgresLookups()) - before).toBe(5);
  });

  it('remembers an unknown key id as absent in Redis: PostgreSQL is asked once', async () => {
    const junk = madeUpKey();
    const before = await postgresLookups();
    expect((await ask(junk, '198.51.100.50')).status).toBe(401);
    app.get(KeyCacheService).invalidateAll(); // what another instance would see
    expect((await ask(junk, '198.51.100.51')).status).toBe(401);
    expect((await postgresLookups()) - before).toBe(1);
  });
});

describe('auth under attack: without sourceAddress, guesses count against the gateway', () => {
  jest.setTimeout(90_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let url: string;
  const orgId = newOrgId();
  const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);

  beforeAll(async () => {
    ctx = await createTestContext();
    ({ app, url } = await startAuth(ctx, LIMITS));
  });

  afterAll(async () => {
    await app?.close();
    await ctx?.dispose();
  });

  it('throttles the gateway bucket for guesses, from any number of end-user addresses, and never a proven key', async () => {
    const key = await issueKey(url, orgId, owner);
    const ask = (presented: string, sourceAddress?: string) =>
      verify(url, { key: presented, action: 'sandbox.list', orgId, ...(sourceAddress ? { sourceAddress } : {}) });
    // 12 guesses, each from its own end-user address (none of them reaches its own limit of 5).
    for (let i = 0; i < 12; i++) expect((await ask(madeUpKey(), `203.0.113.${i + 1}`)).status).toBe(401);
    expect((await ask(madeUpKey(), '203.0.113.200')).status).toBe(429);
    expect((await ask(madeUpKey())).status).toBe(429);
    // A proven key passes with and without sourceAddress, uncached too.
    app.get(KeyCacheService).invalidateAll();
    expect((await ask(key.key)).status).toBe(200);
    app.get(KeyCacheService).invalidateAll();
    expect((await ask(key.key, '203.0.113.1')).status).toBe(200);
  });
});

describe('auth under attack: Redis down', () => {
  jest.setTimeout(90_000);
  let ctx: TestContext;
  let redis: PrivateRedis;
  let app: NestFastifyApplication;
  let url: string;
  const orgId = newOrgId();
  const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);

  beforeAll(async () => {
    ctx = await createTestContext();
    redis = await startPrivateRedis();
    ({ app, url } = await startAuth(ctx, {
      ...LIMITS,
      THROTTLE_GATEWAY_MAX_FAILURES: '100000',
      REDIS_URL: redis.url,
      KEY_LOOKUP_MAX_CONCURRENT: '2',
      KEY_LOOKUP_MAX_QUEUED: '4',
    }));
  });

  afterAll(async () => {
    await app?.close();
    redis?.stop();
    await ctx?.dispose();
  });

  it('limits guesses in process, caps concurrent key lookups, still passes a valid key, and says so', async () => {
    const key = await issueKey(url, orgId, owner);
    const ask = (presented: string, sourceAddress: string) =>
      verify(url, { key: presented, action: 'sandbox.list', orgId, sourceAddress });
    expect((await ask(key.key, '198.51.100.60')).status).toBe(200);
    redis.stop();
    await expectEventually(async () => expect(await metric(url, 'auth_throttle_local_fallback')).toBe(1), 10_000);

    const before = await metric(url, 'auth_key_lookups_total', { source: 'postgres' });
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await ask(madeUpKey(), '198.51.100.60')).status);
    expect(statuses.filter((s) => s === 401).length).toBe(5);
    expect(statuses.filter((s) => s === 429).length).toBe(15);
    expect((await metric(url, 'auth_key_lookups_total', { source: 'postgres' })) - before).toBe(5);
    expect((await ask(key.key, '198.51.100.60')).status).toBe(200);

    // PostgreSQL held up (the table locked): 2 lookups run, 4 wait, the rest are shed at once.
    const db = new Client({ connectionString: ctx.databaseUrl });
    await db.connect();
    await db.query('BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
    const burst = Promise.all(Array.from({ length: 30 }, (_, i) => ask(madeUpKey(), `192.0.2.${i + 1}`)));
    await expectEventually(async () => expect(await metric(url, 'auth_key_lookups_shed_total')).toBe(24), 20_000);
    expect(await metric(url, 'auth_key_lookups_in_flight')).toBe(2);
    await db.query('COMMIT');
    await db.end();
    const burstStatuses = (await burst).map((a) => a.status).sort();
    expect(burstStatuses).toEqual([...Array(6).fill(401), ...Array(24).fill(503)]);

    await redis.start();
    await expectEventually(async () => expect(await metric(url, 'auth_throttle_local_fallback')).toBe(0), 15_000);
    expect((await ask(key.key, '198.51.100.61')).status).toBe(200);
  });
});

/**
 * Issue 11, finding 2 and the abuse benchmark: junk keys with random ids each miss the negative
 * cache, so beyond the per-address and per-gateway throttles the PostgreSQL key lookups of an
 * instance are capped as a whole (rate and concurrency), and the cap never refuses a key whose
 * secret this instance has already seen prove it.
 */
describe('auth under attack: a global cap on PostgreSQL key lookups', () => {
  jest.setTimeout(90_000);
  let ctx: TestContext;
  let redis: PrivateRedis;
  let app: NestFastifyApplication;
  let url: string;
  const orgId = newOrgId();
  const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);
  const postgresLookups = () => metric(url, 'auth_key_lookups_total', { source: 'postgres' });

  beforeAll(async () => {
    ctx = await createTestContext();
    redis = await startPrivateRedis();
    ({ app, url } = await startAuth(ctx, {
      // Throttles out of the way: from enough addresses and gateways they let everything through.
      THROTTLE_MAX_FAILURES: '1000000',
      THROTTLE_GATEWAY_MAX_FAILURES: '1000000',
      REDIS_URL: redis.url,
      KEY_LOOKUP_MAX_CONCURRENT: '1',
      KEY_LOOKUP_MAX_QUEUED: '2',
      KEY_LOOKUP_MAX_UNPROVEN_PER_SECOND: '5',
    }));
  });

  afterAll(async () => {
    await app?.close();
    redis?.stop();
    await ctx?.dispose();
  });

  it('lets at most the rate of unproven lookups reach PostgreSQL, whatever the number of addresses', async () => {
    const before = await postgresLookups();
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        verify(url, { key: madeUpKey(), action: 'sandbox.list', orgId, sourceAddress: `203.0.113.${i + 1}` }),
      ),
    );
    const seconds = Math.ceil((Date.now() - started) / 1000);
    const lookups = (await postgresLookups()) - before;
    expect(lookups).toBeLessThanOrEqual(5 * (seconds + 1));
    expect(answers.filter((a) => a.status === 401).length).toBe(lookups);
    expect(answers.filter((a) => a.status === 503).every((a) => a.body.code === 'DEPENDENCY_UNAVAILABLE')).toBe(true);
    expect(await metric(url, 'auth_key_lookups_shed_total')).toBe(60 - lookups);
    expect(await metric(url, 'auth_key_lookups_shed_total', { reason: 'rate' })).toBeGreaterThan(40);
  });

  it('never sheds the lookup of a key this instance has seen prove itself, with Redis down and the gate full', async () => {
    const created = await call(url, 'POST', `/v1/orgs/${orgId}/api-keys`, {
      headers: bearer(owner),
      body: { name: 'k' },
    });
    const key = created.body.key as string;
    expect((await verify(url, { key, action: 'sandbox.list', orgId })).status).toBe(200);
    redis.stop();
    await expectEventually(async () => expect(await metric(url, 'auth_throttle_local_fallback')).toBe(1), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the rate window refilled

    const db = new Client({ connectionString: ctx.databaseUrl });
    await db.connect();
    await db.query('BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
    // 1 junk lookup running, 2 waiting: the gate is full.
    const junk = Array.from({ length: 3 }, (_, i) =>
      verify(url, { key: madeUpKey(), action: 'sandbox.list', orgId, sourceAddress: `192.0.2.${i + 1}` }),
    );
    await expectEventually(async () => expect(await metric(url, 'auth_key_lookups_in_flight')).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const legit = verify(url, { key, action: 'sandbox.list', orgId });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await db.query('COMMIT');
    await db.end();
    expect((await legit).status).toBe(200);
    expect((await Promise.all(junk)).map((a) => a.status).sort()).toEqual([401, 401, 503]);
    await redis.start();
  });

  it("does not make a proven key wait on someone else's guess at its id, which the gate may shed", async () => {
    const keys: string[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await call(url, 'POST', `/v1/orgs/${orgId}/api-keys`, {
        headers: bearer(owner),
        body: { name: 'k' },
      });
      keys.push(created.body.key as string);
      expect((await verify(url, { key: keys[i], action: 'sandbox.list', orgId })).status).toBe(200);
    }
    redis.stop();
    await expectEventually(async () => expect(await metric(url, 'auth_throttle_local_fallback')).toBe(1), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the rate window refilled

    const db = new Client({ connectionString: ctx.databaseUrl });
    await db.connect();
    await db.query('BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
    const ask = (key: string, sourceAddress: string) =>
      verify(url, { key, action: 'sandbox.list', orgId, sourceAddress });
    const settle = () => new Promise((resolve) => setTimeout(resolve, 150));
    // A junk lookup runs; a guess at the first key's id and another junk key wait: the gate is full.
    const others = [ask(madeUpKey(), '192.0.2.11')];
    await expectEventually(async () => expect(await metric(url, 'auth_key_lookups_in_flight')).toBe(1));
    others.push(ask(guessFor(keys[0]), '192.0.2.12'));
    await settle();
    others.push(ask(madeUpKey(), '192.0.2.13'));
    await settle();
    // The three keys, each proven to this instance: each takes an unproven waiter's place.
    const legit: Array<Promise<{ status: number }>> = [];
    for (const key of keys) {
      legit.push(ask(key, '198.51.100.99'));
      await settle();
    }
    await db.query('COMMIT');
    await db.end();
    expect((await Promise.all(legit)).map((a) => a.status)).toEqual([200, 200, 200]);
    await Promise.all(others);
    await redis.start();
  });
});
