import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createTestContext, TestContext } from '@tally/testing';
import { bearer, call, newOrgId, newUserId, startAuth, userToken, verify } from './auth-harness';

interface Sample {
  instance: number;
  sentAt: number;
  status: number;
  code?: unknown;
}

/**
 * Two auth instances (one database, one Redis) under steady verify load, with warm caches. A
 * revoke through one of them must stop the key on both: no verify sent more than 1 s after the
 * revoke call returned may succeed.
 */
describe('auth: revocation reaches every instance within 1 s', () => {
  jest.setTimeout(60_000);
  let ctx: TestContext;
  const apps: NestFastifyApplication[] = [];
  const urls: string[] = [];
  const orgId = newOrgId();
  const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);

  beforeAll(async () => {
    ctx = await createTestContext();
    // A long local TTL: only the broadcast can make the revoke visible within 1 s. Failure
    // throttling off (it has its own test): every late answer must be the revocation itself,
    // not a 429 for the revoked key's repeated failures.
    for (let i = 0; i < 2; i++) {
      const started = await startAuth(ctx, { KEY_CACHE_LOCAL_TTL_MS: '60000', THROTTLE_MAX_FAILURES: '1000000' });
      apps.push(started.app);
      urls.push(started.url);
    }
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
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

    await new Promise((resolve) => setTimeout(resolve, 1_000)); // steady load with warm caches
    const revoke = await call(urls[0], 'DELETE', `/v1/orgs/${orgId}/api-keys/${created.body.id}`, {
      headers: bearer(owner),
    });
    const revokedAt = Date.now();
    expect(revoke.status).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // keep the load on after the deadline
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
        `instance ${instance}: ${mine.length} verifies; last success sent ${lastSuccess - revokedAt} ms after the revoke returned`,
      );
    }
  });
});
