import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { base32, formatApiKey, Topics, topicName } from '@tally/contracts';
import { createKafka } from '@tally/kafka';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { KafkaMessage } from 'kafkajs';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { bearer, call, newOrgId, newUserId, openDatabase, startAuth, userToken, verify } from './auth-harness';
import { KeyCacheService } from './apps';

/** Verify's hardening: throttling without PostgreSQL, batched lastUsedAt, the published events. */
describe('auth: verify hardening', () => {
  jest.setTimeout(90_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let url: string;
  let db: DataSource;
  const orgId = newOrgId();
  const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);
  let key: { id: string; key: string };

  beforeAll(async () => {
    ctx = await createTestContext();
    ({ app, url } = await startAuth(ctx, { THROTTLE_MAX_FAILURES: '5', THROTTLE_WINDOW_SECONDS: '60' }));
    db = await openDatabase(ctx);
    key = (await call(url, 'POST', `/v1/orgs/${orgId}/api-keys`, { headers: bearer(owner), body: { name: 'k' } }))
      .body as typeof key;
  });

  afterAll(async () => {
    await app?.close();
    await db?.destroy();
    await ctx?.dispose();
  });

  const lookups = async (source: string): Promise<number> => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('auth_key_lookups_total') && l.includes(`source="${source}"`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  /** A well-formed key (valid checksum) with an id nobody issued: each one is a fresh lookup. */
  const madeUpKey = () => formatApiKey('lysk-', base32(randomBytes(10), 16), base32(randomBytes(32), 52));

  it('throttles failures per source address with 429 and Retry-After, without reaching PostgreSQL', async () => {
    const sourceAddress = '198.51.100.7';
    for (let i = 0; i < 5; i++) {
      const answer = await verify(url, { key: madeUpKey(), action: 'sandbox.list', orgId, sourceAddress });
      expect(answer.body.code).toBe('INVALID_API_KEY');
    }
    expect((await verify(url, { key: key.key, action: 'sandbox.list', orgId })).status).toBe(200);
    const before = await lookups('postgres');
    for (let i = 0; i < 20; i++) {
      const answer = await verify(url, { key: madeUpKey(), action: 'sandbox.list', orgId, sourceAddress });
      expect(answer.status).toBe(429);
      expect(answer.body).toMatchObject({ code: 'RATE_LIMITED', requestId: expect.any(String) });
      const retryAfter = Number(answer.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    expect(await lookups('postgres')).toBe(before);
    // A valid key is not someone else's failure: it passes its throttled address (issue 11).
    const valid = await verify(url, { key: key.key, action: 'sandbox.list', orgId, sourceAddress });
    expect(valid.status).toBe(200);
    // Another address is not affected.
    const other = await verify(url, { key: key.key, action: 'sandbox.list', orgId, sourceAddress: '198.51.100.8' });
    expect(other.status).toBe(200);
  });

  it('throttles failures per key id, whatever the address', async () => {
    const target = madeUpKey();
    const [head] = target.split('_');
    const guess = () => formatApiKey('lysk-', head.slice(5), base32(randomBytes(32), 52));
    for (let i = 0; i < 5; i++) {
      const answer = await verify(url, {
        key: guess(),
        action: 'sandbox.list',
        orgId,
        sourceAddress: `203.0.113.${i}`,
      });
      expect(answer.body.code).toBe('INVALID_API_KEY');
    }
    const answer = await verify(url, { key: guess(), action: 'sandbox.list', orgId, sourceAddress: '203.0.113.99' });
    expect(answer).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
  });

  it("does not lock a key's owner out when its id is throttled: the right secret still passes, guesses do not", async () => {
    // A key of its own: its id stays throttled for the window.
    const mine = (
      await call(url, 'POST', `/v1/orgs/${orgId}/api-keys`, { headers: bearer(owner), body: { name: 'locked?' } })
    ).body as typeof key;
    const [head] = mine.key.split('_');
    const guess = () => formatApiKey('lysk-', head.slice(5), base32(randomBytes(32), 52));
    expect((await verify(url, { key: mine.key, action: 'sandbox.list', orgId })).status).toBe(200);
    for (let i = 0; i < 5; i++) {
      const answer = await verify(url, { key: guess(), action: 'sandbox.list', orgId, sourceAddress: `192.0.2.${i}` });
      expect(answer.body.code).toBe('INVALID_API_KEY');
    }
    const before = await lookups('postgres');
    const guessed = await verify(url, { key: guess(), action: 'sandbox.list', orgId, sourceAddress: '192.0.2.50' });
    expect(guessed).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
    // The owner, from the instance's cache...
    const fromCache = await verify(url, { key: mine.key, action: 'sandbox.list', orgId, sourceAddress: '192.0.2.60' });
    expect(fromCache.status).toBe(200);
    // ...and from Redis once this instance forgot it (PostgreSQL is never asked for a throttled id).
    app.get(KeyCacheService).invalidateAll();
    const again = await verify(url, { key: mine.key, action: 'sandbox.list', orgId, sourceAddress: '192.0.2.61' });
    expect(again.status).toBe(200);
    const guessedAgain = await verify(url, {
      key: guess(),
      action: 'sandbox.list',
      orgId,
      sourceAddress: '192.0.2.62',
    });
    expect(guessedAgain).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
    expect(await lookups('postgres')).toBe(before);
  });

  it('writes lastUsedAt in batches, not once per verify', async () => {
    const updates = async () =>
      Number(
        (
          await db.query(
            `SELECT pg_stat_clear_snapshot(), (SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'api_keys') AS n`,
          )
        )[0].n,
      );
    const before = await updates();
    const started = Date.now();
    let verified = 0;
    // At least 1.5 s and 100 verifies (a loaded machine needs longer for them).
    while (Date.now() - started < 1_500 || (verified <= 100 && Date.now() - started < 20_000)) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, () => verify(url, { key: key.key, action: 'sandbox.get', orgId })),
      );
      verified += batch.filter((answer) => answer.status === 200).length;
    }
    expect(verified).toBeGreaterThan(100);
    const seconds = Math.ceil((Date.now() - started) / 1_000);
    await expectEventually(async () => {
      const [row] = await db.query('SELECT last_used_at FROM api_keys WHERE id = $1', [key.id]);
      expect(row.last_used_at).not.toBeNull();
    });
    await expectEventually(async () => expect(await updates()).toBeGreaterThan(before), 10_000, 200);
    // LAST_USED_INTERVAL_SECONDS=1: about one write per second of load, not one per verify.
    expect((await updates()) - before).toBeLessThanOrEqual(Math.min(seconds + 2, verified / 10));
  });

  it('publishes verified and denied events keyed by the organization', async () => {
    const ok = await verify(url, { key: key.key, action: 'project.list', orgId });
    const denied = await verify(url, { key: key.key, action: 'billing.read', orgId, sourceAddress: '192.0.2.1' });
    expect(denied.status).toBe(403);
    const kafka = createKafka('auth-verify-test', [ctx.kafkaBrokers]);
    const consumer = kafka.consumer({ groupId: `${ctx.topicPrefix}reader` });
    const seen: KafkaMessage[] = [];
    await consumer.connect();
    await consumer.subscribe({
      topics: [Topics.actionVerified, Topics.actionDenied].map((t) => topicName(ctx.topicPrefix, t)),
      fromBeginning: true,
    });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
    try {
      await expectEventually(() => {
        const events = seen.map((m) => ({ key: m.key?.toString(), ...JSON.parse(m.value!.toString()) }));
        expect(events).toContainEqual(
          expect.objectContaining({
            key: orgId,
            id: ok.body.eventId,
            type: 'action.verified',
            data: expect.objectContaining({ orgId, keyId: key.id, action: 'project.list' }),
          }),
        );
        expect(events).toContainEqual(
          expect.objectContaining({
            key: orgId,
            type: 'action.denied',
            data: expect.objectContaining({
              action: 'billing.read',
              code: 'ACTION_NOT_ALLOWED_FOR_API_KEY',
              sourceAddress: '192.0.2.1',
            }),
          }),
        );
      }, 30_000);
    } finally {
      await consumer.disconnect();
    }
  });
});

describe('auth: OpenAPI at /docs', () => {
  jest.setTimeout(60_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let url: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    ({ app, url } = await startAuth(ctx));
  });

  afterAll(async () => {
    await app?.close();
    await ctx?.dispose();
  });

  it('documents every endpoint with its statuses and the error body', async () => {
    expect((await fetch(`${url}/docs`)).status).toBe(200);
    const doc = (await (await fetch(`${url}/docs/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>>;
      components: { securitySchemes: Record<string, unknown>; schemas: Record<string, { properties?: object }> };
    };
    const expected: Array<[string, string, string[]]> = [
      ['/v1/verify', 'post', ['200', '400', '401', '402', '403', '404', '413', '429', '503']],
      ['/v1/orgs/{orgId}/api-keys', 'post', ['201', '400', '401', '403', '404', '413', '503']],
      ['/v1/orgs/{orgId}/api-keys', 'get', ['200', '400', '401', '403', '404', '503']],
      ['/v1/orgs/{orgId}/api-keys/{keyId}', 'delete', ['204', '401', '403', '404', '503']],
      ['/v1/authorize', 'post', ['200', '400', '401', '403', '404', '413', '503']],
    ];
    for (const [path, method, statuses] of expected) {
      const operation = doc.paths[path]?.[method];
      expect(operation ? Object.keys(operation.responses) : `${method} ${path} missing`).toEqual(
        expect.arrayContaining(statuses),
      );
      for (const status of statuses.filter((s) => Number(s) >= 400)) {
        expect(JSON.stringify(operation.responses[status].content)).toContain('#/components/schemas/ErrorBodyDto');
      }
    }
    expect(Object.keys(doc.components.schemas.ErrorBodyDto.properties ?? {})).toEqual(
      expect.arrayContaining(['code', 'message', 'requestId']),
    );
    expect(Object.keys(doc.components.securitySchemes)).toEqual(expect.arrayContaining(['service', 'dashboard']));
  });
});

describe('auth: PostgreSQL gone', () => {
  jest.setTimeout(60_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let url: string;
  const orgId = newOrgId();
  const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);

  beforeAll(async () => {
    ctx = await createTestContext();
    ({ app, url } = await startAuth(ctx));
  });

  afterAll(async () => {
    await app?.close();
    await ctx?.dispose();
  });

  it('keeps verifying cached keys, and fails closed with 503 for what needs the database', async () => {
    const created = await call(url, 'POST', `/v1/orgs/${orgId}/api-keys`, {
      headers: bearer(owner),
      body: { name: 'k' },
    });
    const key = created.body.key as string;
    expect((await verify(url, { key, action: 'sandbox.list', orgId })).status).toBe(200);

    // The database disappears under the running app: no new connections, the open ones terminated.
    const name = new URL(ctx.databaseUrl).pathname.slice(1);
    const admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS false`);
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name]);

    expect((await verify(url, { key, action: 'sandbox.list', orgId })).status).toBe(200);
    const unknown = `${key.split('_')[0].slice(0, -1)}${key.split('_')[0].at(-1) === 'a' ? 'b' : 'a'}`;
    const [, secret] = key.split('_');
    const other = formatApiKey('lysk-', unknown.slice(5), secret);
    const answer = await verify(url, { key: other, action: 'sandbox.list', orgId });
    expect(answer).toMatchObject({ status: 503, body: { code: 'DEPENDENCY_UNAVAILABLE' } });
    const listing = await call(url, 'GET', `/v1/orgs/${orgId}/api-keys`, { headers: bearer(owner) });
    expect(listing).toMatchObject({ status: 503, body: { code: 'DEPENDENCY_UNAVAILABLE' } });

    // Let dispose() drop it.
    await admin.query(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS true`);
    await admin.end();
  });
});
