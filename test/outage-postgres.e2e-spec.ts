import {
  createTestContext,
  expectEventually,
  PrivatePostgres,
  startPrivatePostgres,
  TestContext,
} from '@tally/testing';
import { SERVICE_TOKEN } from './auth-harness';
import { brokenRules, probe, probeAll, readyAgain, Stack, startStack } from './outage-harness';

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
  let acknowledged = 0;

  const agentRun = async () => {
    const answer = await probe(stack.urls, {
      app: 'auth',
      method: 'POST',
      path: '/v1/verify',
      headers: { 'x-service-token': SERVICE_TOKEN },
      body: { key: stack.demo.apiKey, action: 'agent.run', orgId: stack.demo.orgId },
    });
    if (answer.status === 200) acknowledged++;
    return answer;
  };
  const debitedMc = async () => {
    const [row] = await stack.db.query(
      `SELECT COALESCE(-SUM(amount), 0)::text AS mc, COUNT(*)::int AS entries FROM ledger_entries
        WHERE org_id = $1 AND kind = 'agent' AND entry_type IN ('debit', 'overage')`,
      [stack.demo.orgId],
    );
    return row as { mc: string; entries: number };
  };

  beforeAll(async () => {
    const step = (s: string) => process.stderr.write(`[outage] ${new Date().toISOString()} ${s}\n`);
    ctx = await createTestContext();
    step('ctx');
    pg = await startPrivatePostgres();
    step('pg');
    stack = await startStack(ctx, { DATABASE_URL: pg.url });
    step('stack');
  });

  afterAll(async () => {
    await stack?.close();
    pg?.dispose();
    await ctx?.dispose();
  });

  it('answers every endpoint within 2 s with 2xx or 503 naming postgres while it is down, and loses nothing', async () => {
    // Warm: the key in auth's cache, the org's balance in quota's Redis.
    await expectEventually(async () => expect((await agentRun()).status).toBe(200), 20_000);
    await expectEventually(async () => expect((await debitedMc()).mc).toBe(String(acknowledged * 1_000)), 30_000);

    pg.stop();
    const probes = await probeAll(stack);
    console.log(
      `PostgreSQL down: ${probes.length} endpoints, slowest ${Math.max(...probes.map((p) => p.ms)).toFixed(0)} ms; ` +
        probes
          .map(
            (p) =>
              `${p.endpoint.app} ${p.endpoint.method} ${p.endpoint.path.split('?')[0].replace(/ORG-\w+/, ':org')} ${p.status}`,
          )
          .join('; '),
    );
    expect(brokenRules(probes, 'postgres')).toEqual([]);
    acknowledged += probes.filter(
      (p) => p.status === 200 && (p.endpoint.body as { action?: string })?.action === 'agent.run',
    ).length;
    // A cached key keeps verifying metered actions: quota admits from Redis, Kafka records them.
    for (let i = 0; i < 5; i++) expect((await agentRun()).status).toBe(200);

    pg.start();
    const readyMs = await readyAgain(stack, 10_000);
    console.log(`PostgreSQL back: every app ready after ${readyMs.toFixed(0)} ms`);
    await expectEventually(async () => expect((await debitedMc()).mc).toBe(String(acknowledged * 1_000)), 30_000, 250);
    expect((await debitedMc()).entries).toBe(acknowledged);
  });
});
