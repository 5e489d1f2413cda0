import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createTestContext, expectEventually, PrivateRedis, startPrivateRedis, TestContext } from '@tally/testing';
import { bearer, call, newOrgId, newUserId, startAuth, userToken, verify } from './auth-harness';

interface Sample {
  instance: string;
  sentAt: number;
  status: number;
}

/**
 * Issue 11, finding 3: the revoke's Redis overwrite is retried until it succeeds, durably. The
 * key is revoked on instance A while Redis is down (it keeps its data: an append-only file), A
 * then stops (its retries in memory, if any, die with it) and Redis comes back still holding the
 * key as live. Every instance (B, up throughout, and C, started afterwards) refuses the key within
 * 1 s after Redis returns, and B never serves it from its own copy beyond the bound while Redis is down.
 */
describe('auth: a revocation written to Redis even when its instance stops before Redis returns', () => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let redis: PrivateRedis;
  const apps = new Map<string, NestFastifyApplication>();
  const urls = new Map<string, string>();
  const orgId = newOrgId();
  const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);
  const start = async (name: string) => {
    // Default cache settings: what production runs.
    const started = await startAuth(ctx, { REDIS_URL: redis.url, THROTTLE_MAX_FAILURES: '1000000' });
    apps.set(name, started.app);
    urls.set(name, started.url);
  };

  beforeAll(async () => {
    ctx = await createTestContext();
    redis = await startPrivateRedis({ persistent: true });
    await start('A');
    await start('B');
  });

  afterAll(async () => {
    for (const app of apps.values()) await app.close();
    redis?.stop();
    await ctx?.dispose();
  });

  it('refuses the key on every instance within 1 s after Redis returns', async () => {
    const created = await call(urls.get('A')!, 'POST', `/v1/orgs/${orgId}/api-keys`, {
      headers: bearer(owner),
      body: { name: 'to revoke' },
    });
    const key = created.body.key as string;
    const samples: Sample[] = [];
    const stopped = new Set<string>();
    const worker = async (instance: string) => {
      while (!stopped.has(instance)) {
        const sentAt = Date.now();
        const answer = await verify(urls.get(instance)!, { key, action: 'sandbox.list', orgId });
        samples.push({ instance, sentAt, status: answer.status });
      }
    };
    const workers = [worker('A'), worker('B'), worker('B')];
    // Both instances have served the key, so Redis holds it as live.
    await expectEventually(() =>
      expect(samples.filter((s) => s.instance === 'B' && s.status === 200).length).toBeGreaterThan(10),
    );

    redis.stop({ keepData: true });
    const revoke = await call(urls.get('A')!, 'DELETE', `/v1/orgs/${orgId}/api-keys/${created.body.id}`, {
      headers: bearer(owner),
    });
    expect(revoke.status).toBe(204);
    const revokedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    stopped.add('A');
    await workers[0];
    await apps.get('A')!.close();
    apps.delete('A');

    await redis.start();
    const returnedAt = Date.now();
    await start('C');
    workers.push(worker('C'));
    await expectEventually(
      () =>
        expect(samples.filter((s) => s.instance === 'C' && s.sentAt > returnedAt + 1_000).length).toBeGreaterThan(5),
      30_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    stopped.add('B').add('C');
    await Promise.all(workers);

    const late = (instance: string, after: number) =>
      samples.filter((s) => s.instance === instance && s.sentAt > after).map((s) => s.status);
    // While Redis was down, B's own copy lasted at most the bound.
    const down = samples.filter((s) => s.instance === 'B' && s.sentAt > revokedAt + 1_000 && s.sentAt < returnedAt);
    expect(down.length).toBeGreaterThan(2);
    expect(down.filter((s) => s.status === 200)).toEqual([]);
    expect(late('B', returnedAt + 1_000).length).toBeGreaterThan(5);
    expect(late('B', returnedAt + 1_000).filter((status) => status !== 401)).toEqual([]);
    expect(late('C', 0).filter((status) => status !== 401)).toEqual([]);
  });
});
