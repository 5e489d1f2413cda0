import { createTestContext, expectEventually, PrivateRedis, startPrivateRedis, TestContext } from '@tally/testing';
import { brokenRules, describeProbes, meteredActions, probeAll, readyAgain, Stack, startStack } from './outage-harness';

/**
 * Issue 16, Redis: the three apps on a Redis of this test's own, stopped for a while (it comes
 * back empty). Meanwhile every endpoint of every app answers within 2 s, 2xx where PostgreSQL or
 * a local cache serves it, or 503 DEPENDENCY_UNAVAILABLE naming Redis (metered admissions fail
 * closed); every agent.run auth acknowledged is debited exactly once, and every app is ready again
 * within 10 s of Redis, same process.
 */
describe('outage: Redis', () => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let redis: PrivateRedis;
  let stack: Stack;

  beforeAll(async () => {
    ctx = await createTestContext();
    redis = await startPrivateRedis();
    stack = await startStack(ctx, { REDIS_URL: redis.url });
  });

  afterAll(async () => {
    await stack?.close();
    redis?.stop();
    await ctx?.dispose();
  });

  it('answers every endpoint within 2 s with 2xx or 503 naming redis while it is down, and loses nothing', async () => {
    const metered = meteredActions(stack);
    await expectEventually(async () => expect((await metered.run()).status).toBe(200), 20_000);
    await expectEventually(
      async () => expect((await metered.debited()).mc).toBe(`${metered.acknowledged * 1_000}`),
      30_000,
    );

    redis.stop();
    const probes = await probeAll(stack);
    console.log(describeProbes('Redis down', probes));
    expect(brokenRules(probes, 'redis')).toEqual([]);
    metered.count(probes);
    const during = await metered.run();
    expect(during).toMatchObject({ status: 503, body: { code: 'DEPENDENCY_UNAVAILABLE' } });

    await redis.start();
    const readyMs = await readyAgain(stack, 10_000);
    console.log(`Redis back (empty): every app ready after ${readyMs.toFixed(0)} ms`);
    await expectEventually(async () => expect((await metered.run()).status).toBe(200), 10_000, 250);
    await expectEventually(
      async () => expect((await metered.debited()).mc).toBe(`${metered.acknowledged * 1_000}`),
      30_000,
      250,
    );
    expect((await metered.debited()).entries).toBe(metered.acknowledged);
  });
});
