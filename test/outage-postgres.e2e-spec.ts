import {
  createTestContext,
  expectEventually,
  PrivatePostgres,
  startPrivatePostgres,
  TestContext,
} from '@tally/testing';
import { brokenRules, describeProbes, meteredActions, probeAll, readyAgain, Stack, startStack } from './outage-harness';

/**
 * Issue 16, PostgreSQL: the three apps on a PostgreSQL of this test's own, stopped for a while.
 * Meanwhile every endpoint of every app answers within 2 s, 2xx where a cache serves it (a cached
 * key verifies, quota admits from Redis) or 503 DEPENDENCY_UNAVAILABLE naming postgres; every
 * agent.run auth acknowledged is debited exactly once after PostgreSQL returns, and every app is
 * ready again within 10 s, same process.
 */
describe('outage: PostgreSQL', () => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let pg: PrivatePostgres;
  let stack: Stack;

  beforeAll(async () => {
    ctx = await createTestContext();
    pg = await startPrivatePostgres();
    stack = await startStack(ctx, { DATABASE_URL: pg.url });
  });

  afterAll(async () => {
    await stack?.close();
    pg?.dispose();
    await ctx?.dispose();
  });

  it('answers every endpoint within 2 s with 2xx or 503 naming postgres while it is down, and loses nothing', async () => {
    const metered = meteredActions(stack);
    // Warm: the key in auth's cache, the org's balance in quota's Redis.
    await expectEventually(async () => expect((await metered.run()).status).toBe(200), 20_000);
    await expectEventually(
      async () => expect((await metered.debited()).mc).toBe(`${metered.acknowledged * 1_000}`),
      30_000,
    );

    pg.stop();
    const probes = await probeAll(stack);
    console.log(describeProbes('PostgreSQL down', probes));
    expect(brokenRules(probes, 'postgres')).toEqual([]);
    metered.count(probes);
    // A cached key keeps verifying metered actions: quota admits from Redis, Kafka records them.
    for (let i = 0; i < 5; i++) expect((await metered.run()).status).toBe(200);

    pg.start();
    const readyMs = await readyAgain(stack, 10_000);
    console.log(`PostgreSQL back: every app ready after ${readyMs.toFixed(0)} ms`);
    await expectEventually(
      async () => expect((await metered.debited()).mc).toBe(`${metered.acknowledged * 1_000}`),
      30_000,
      250,
    );
    expect((await metered.debited()).entries).toBe(metered.acknowledged);
  });
});
