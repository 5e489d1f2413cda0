import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createTestContext, expectEventually, PrivateRedis, startPrivateRedis, TestContext } from '@tally/testing';
import type Redis from 'ioredis';
import { bearer, call, newOrgId, newUserId, startAuth, userToken, verify } from './auth-harness';

interface Sample {
  instance: number;
  sentAt: number;
  status: number;
}

/**
 * Issue 11, finding 3: revocation within 1 s on every instance even when the broadcast is lost or
 * the revoke's Redis write fails. Two auth instances on a Redis of the test's own; connections
 * are cut with CLIENT KILL while `maxclients` keeps them from coming back, then restored.
 */
describe('auth: revocation within 1 s when Redis connections are cut', () => {
  jest.setTimeout(90_000);
  let ctx: TestContext;
  let redis: PrivateRedis;
  let admin: Redis;
  const apps: NestFastifyApplication[] = [];
  const urls: string[] = [];
  const orgId = newOrgId();
  const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);

  beforeAll(async () => {
    ctx = await createTestContext();
    redis = await startPrivateRedis();
    admin = redis.admin();
    for (let i = 0; i < 2; i++) {
      // Default cache settings: what production runs.
      const started = await startAuth(ctx, { REDIS_URL: redis.url, THROTTLE_MAX_FAILURES: '1000000' });
      apps.push(started.app);
      urls.push(started.url);
    }
  });

  afterAll(async () => {
    await admin?.config('SET', 'maxclients', '10000').catch(() => undefined);
    for (const app of apps) await app.close();
    admin?.disconnect();
    redis?.stop();
    await ctx?.dispose();
  });

  /** Cuts the connections of `type` and keeps them from reconnecting (the admin connection stays). */
  async function cut(type: 'pubsub' | 'normal'): Promise<void> {
    const list = (await admin.client('LIST')) as string;
    const clients = list.trim().split('\n');
    const cutting = clients.filter((line) => (type === 'pubsub' ? / flags=P /.test(line) : !/ flags=P /.test(line)));
    const kept = clients.length - cutting.length + (type === 'normal' ? 1 : 0); // the admin's own stays
    await admin.config('SET', 'maxclients', String(kept));
    await admin.call('CLIENT', 'KILL', 'TYPE', type, 'SKIPME', 'yes');
  }

  async function revokeUnderLoad(during: () => Promise<void>, after: () => Promise<void>): Promise<Sample[]> {
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
        samples.push({ instance, sentAt, status: answer.status });
      }
    };
    const workers = [0, 1, 1].map((instance) => worker(instance));
    await expectEventually(() =>
      expect(samples.filter((s) => s.instance === 1 && s.status === 200).length).toBeGreaterThan(10),
    );
    await during();
    const revoke = await call(urls[0], 'DELETE', `/v1/orgs/${orgId}/api-keys/${created.body.id}`, {
      headers: bearer(owner),
    });
    const revokedAt = Date.now();
    expect(revoke.status).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await after();
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // connections back: still refused
    running = false;
    await Promise.all(workers);
    return samples.filter((s) => s.sentAt > revokedAt + 1_000);
  }

  it('stops the key on an instance whose revocation subscriber was cut during the revoke', async () => {
    const late = await revokeUnderLoad(
      () => cut('pubsub'),
      () => admin.config('SET', 'maxclients', '10000').then(() => undefined),
    );
    expect(late.filter((s) => s.instance === 1).length).toBeGreaterThan(2);
    expect(late.filter((s) => s.status === 200)).toEqual([]);
  });

  it("stops the key when the revoke's Redis write fails, and writes it once Redis is reachable again", async () => {
    const late = await revokeUnderLoad(
      () => cut('normal'),
      () => admin.config('SET', 'maxclients', '10000').then(() => undefined),
    );
    expect(late.filter((s) => s.instance === 1).length).toBeGreaterThan(2);
    expect(late.filter((s) => s.status === 200)).toEqual([]);
  });
});
