import { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  createTestContext,
  expectEventually,
  PrivateRedisCluster,
  startPrivateRedisCluster,
  TestContext,
} from '@tally/testing';
import { bearer, call, newOrgId, newUserId, startAuth, userToken, verify } from './auth-harness';

interface Sample {
  instance: number;
  sentAt: number;
  status: number;
  code?: unknown;
}

/**
 * Two auth instances (one database, one Redis or one Redis Cluster) under steady verify load, with
 * warm caches. A revoke through one of them must stop the key on both: no verify sent more than
 * 1 s after the revoke call returned may succeed.
 */
describe.each(['one Redis', 'a Redis Cluster'])('auth on %s: revocation reaches every instance within 1 s', (redis) => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let cluster: PrivateRedisCluster | undefined;
  const apps: NestFastifyApplication[] = [];
  const urls: string[] = [];
  const orgId = newOrgId();
  const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);

  beforeAll(async () => {
    ctx = await createTestContext();
    if (redis === 'a Redis Cluster') cluster = await startPrivateRedisCluster();
    const redisUrl: Record<string, string> = cluster ? { REDIS_URL: cluster.url } : {};
    // The longest local TTL auth accepts (the revocation bound, 1 s). Failure
    // throttling off (it has its own test): every late answer must be the revocation itself,
    // not a 429 for the revoked key's repeated failures.
    for (let i = 0; i < 2; i++) {
      const started = await startAuth(ctx, {
        KEY_CACHE_LOCAL_TTL_MS: '1000',
        THROTTLE_MAX_FAILURES: '1000000',
        ...redisUrl,
      });
      apps.push(started.app);
      urls.push(started.url);
    }
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await cluster?.dispose();
    await ctx?.dispose();
  });

  it('no verify succeeds more than 1 s after the revoke returned', async () => {
    const created = await call(urls[0], 'POST', `/v1/orgs/${orgId}/api-keys`, {
      headers: bearer(owner),
      body: { name: 'to revoke' },
    });
    const key = created.body.key as string;
    const samples: Sample[] = [];
    let running = true;
    const worker = async (instance: number) => {
      while (running) {
        const sentAt = Date.now();
        const answer = await verify(urls[instance], { key, action: 'sandbox.list', orgId });
        samples.push({ instance, sentAt, status: answer.status, code: answer.body.code });
      }
    };
    const workers = [0, 0, 0, 1, 1, 1].map((instance) => worker(instance));

    // Steady load with warm caches (at least 1 s; longer on a loaded machine, until enough samples).
    const enough = (instance: number, sample: (s: Sample) => boolean) =>
      samples.filter((s) => s.instance === instance && sample(s)).length > 20;
    const warmFrom = Date.now();
    await expectEventually(() => {
      expect(Date.now() - warmFrom).toBeGreaterThan(1_000);
      for (const instance of [0, 1]) expect(enough(instance, (s) => s.status === 200)).toBe(true);
    }, 30_000);
    const revoke = await call(urls[0], 'DELETE', `/v1/orgs/${orgId}/api-keys/${created.body.id}`, {
      headers: bearer(owner),
    });
    const revokedAt = Date.now();
    expect(revoke.status).toBe(204);
    // Keep the load on well past the deadline.
    await expectEventually(() => {
      for (const instance of [0, 1]) expect(enough(instance, (s) => s.sentAt > revokedAt + 1_000)).toBe(true);
    }, 30_000);
    running = false;
    await Promise.all(workers);

    for (const instance of [0, 1]) {
      const mine = samples.filter((s) => s.instance === instance);
      expect(mine.filter((s) => s.sentAt < revokedAt - 200 && s.status === 200).length).toBeGreaterThan(20);
      const late = mine.filter((s) => s.sentAt > revokedAt + 1_000);
      expect(late.length).toBeGreaterThan(20);
      expect(late.filter((s) => s.status === 200)).toEqual([]);
      expect(late.every((s) => s.status === 401 && s.code === 'API_KEY_REVOKED')).toBe(true);
      const lastSuccess = Math.max(...mine.filter((s) => s.status === 200).map((s) => s.sentAt));
      console.log(
        `${redis}, instance ${instance}: ${mine.length} verifies; last success sent ${lastSuccess - revokedAt} ms after the revoke returned`,
      );
    }
  });
});
