import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import {
  bearer,
  call,
  guessFor,
  newOrgId,
  newUserId,
  openDatabase,
  startAuth,
  userToken,
  verify,
} from './auth-harness';

/**
 * After keys are created, used (caches filled, lastUsedAt written), failed against (throttle
 * counters) and revoked, no table and no Redis key of this test holds a key or its secret, in
 * any of the encodings a careless write would produce.
 */
describe('auth: no plaintext key at rest', () => {
  jest.setTimeout(60_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let url: string;
  let db: DataSource;
  let redis: Redis;
  const orgId = newOrgId();
  const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);
  const keys: Array<{ id: string; key: string }> = [];

  beforeAll(async () => {
    ctx = await createTestContext();
    ({ app, url } = await startAuth(ctx));
    db = await openDatabase(ctx);
    redis = new Redis(ctx.redisUrl);
    for (const name of ['first', 'second', 'third']) {
      const created = await call(url, 'POST', `/v1/orgs/${orgId}/api-keys`, { headers: bearer(owner), body: { name } });
      expect(created.status).toBe(201);
      keys.push(created.body as { id: string; key: string });
    }
    for (const { key } of keys) {
      expect((await verify(url, { key, action: 'sandbox.list', orgId })).status).toBe(200);
      expect((await verify(url, { key, action: 'agent.run', orgId })).status).toBe(200);
      // A wrong secret (well formed) for a real key id: a throttle counter named after the id.
      await verify(url, { key: guessFor(key), action: 'sandbox.list', orgId });
    }
    await expectEventually(async () => {
      const rows = await db.query('SELECT count(*)::int AS n FROM api_keys WHERE last_used_at IS NOT NULL');
      expect(rows[0].n).toBe(3);
    });
    const revoked = await call(url, 'DELETE', `/v1/orgs/${orgId}/api-keys/${keys[2].id}`, { headers: bearer(owner) });
    expect(revoked.status).toBe(204);
  });

  afterAll(async () => {
    await app?.close();
    redis?.disconnect();
    await db?.destroy();
    await ctx?.dispose();
  });

  /** Every form of every secret that must not appear. */
  const needles = () =>
    keys.flatMap(({ key }) => {
      const secret = key.split('_')[1];
      return [key, secret, Buffer.from(secret).toString('hex'), Buffer.from(secret).toString('base64')];
    });

  it('finds no key or secret in any table', async () => {
    const tables: Array<{ name: string }> = await db.query(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['api_keys', 'api_key_audit']));
    let rowsRead = 0;
    for (const { name } of tables) {
      const rows: Array<{ row: string }> = await db.query(`SELECT t::text AS row FROM "${name}" t`);
      rowsRead += rows.length;
      const dump = rows.map((r) => r.row).join('\n');
      for (const needle of needles())
        expect(dump.includes(needle) ? `${name} contains a secret` : 'clean').toBe('clean');
    }
    expect(rowsRead).toBeGreaterThanOrEqual(3 + 4); // three keys, three creations and a revocation audited
  });

  it("finds no key or secret in any Redis key of this test's prefix", async () => {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${ctx.redisPrefix}*`, 'COUNT', 500);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
    // The caches and counters are there (the search is not vacuous).
    for (const { id } of keys) expect(found).toContain(`${ctx.redisPrefix}auth:key:${id}`);
    expect(found.some((k) => k.includes('auth:fail:'))).toBe(true);
    for (const key of found) {
      const type = await redis.type(key);
      const value =
        type === 'string'
          ? await redis.get(key)
          : type === 'hash'
            ? JSON.stringify(await redis.hgetall(key))
            : type === 'set'
              ? JSON.stringify(await redis.smembers(key))
              : type === 'zset'
                ? JSON.stringify(await redis.zrange(key, '0', '-1', 'WITHSCORES'))
                : type === 'list'
                  ? JSON.stringify(await redis.lrange(key, 0, -1))
                  : JSON.stringify(await redis.xrange(key, '-', '+'));
      const dump = `${key}\n${value}`;
      for (const needle of needles())
        expect(dump.includes(needle) ? `${key} contains a secret` : 'clean').toBe('clean');
    }
  });
});
