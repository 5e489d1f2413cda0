import { createDataSource } from '@tally/database';
import { createKafka } from '@tally/kafka';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DataSource } from 'typeorm';
import { appUrl, startApp } from './apps';
import { agentUsage, publishAll, sandboxUsage, seedOrg, seedOrgs, verified } from './metering-harness';

const HOUR = 3_600_000;
const TOKEN = { 'x-service-token': 'test-service-token' };

interface FleetOrg {
  orgId: string;
  attention: string;
  emptyAt: string | null;
  runningSandboxes: number;
  balances: Record<
    'sandbox' | 'agent',
    { available: string; burnPerHour: string; firing: string[]; held: string; overageOwed: string }
  >;
}

/**
 * The ops console's API over a fleet of 1,000 organizations: the fleet (one query, sorted and
 * paged), the pipeline's health, an organization's running sandboxes and its explained balance.
 */
describe('ops fleet API', () => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let db: DataSource;
  let url: string;
  let dry: string; // 10 h granted, 9 h used in the last hour, one sandbox running
  let empty: string; // 1 credit granted, 2 used: depleted, in overage

  const get = async (path: string, headers: Record<string, string> = TOKEN) => {
    const response = await fetch(`${url}${path}`, { headers });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    ctx = await createTestContext();
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    app = await startApp('metering', ctx.env({ EXPIRY_INTERVAL_MS: '0', NOTIFIER: 'false' }));
    url = appUrl(app);
    await seedOrgs(db, 1_000, 100n * BigInt(HOUR), 50_000n);
    dry = await seedOrg(db, { sandboxMs: 10n * BigInt(HOUR), agentMc: 0n });
    empty = await seedOrg(db, { sandboxMs: 0n, agentMc: 1_000n });
    const producer = createKafka('ops-fleet-test', [ctx.kafkaBrokers]).producer();
    await producer.connect();
    await publishAll(producer, [
      sandboxUsage(ctx.topicPrefix, dry, 'sbx-done', 'sandbox.stopped', 9 * HOUR, 1),
      verified(ctx.topicPrefix, dry, 'sandbox.create', {
        params: { shape: 'small', maxLifeSeconds: 1800 },
        resource: { type: 'sandbox', id: 'sbx-live' },
      }),
      agentUsage(ctx.topicPrefix, empty, 2_000),
    ]);
    await producer.disconnect();
    await expectEventually(async () => {
      const rows = await db.query(
        `SELECT 1 FROM alert_states WHERE org_id = $1 AND thresholds->'depleted'->>'fired' = 'true'`,
        [empty],
      );
      expect(rows).toHaveLength(1);
      expect(await db.query(`SELECT 1 FROM holds WHERE org_id = $1 AND placed`, [dry])).toHaveLength(1);
    }, 30_000);
  });

  afterAll(async () => {
    await app?.close();
    await db?.destroy();
    await ctx?.dispose();
  });

  it('lists the fleet with the empty and the running-dry organizations first, in one bounded page', async () => {
    const started = performance.now();
    const { status, body } = await get('/v1/fleet?limit=1000');
    const ms = performance.now() - started;
    expect(status).toBe(200);
    expect(body.total).toBe(1_002);
    const orgs = body.organizations as FleetOrg[];
    expect(orgs).toHaveLength(1_000);
    expect(orgs[0]).toMatchObject({ orgId: empty, status: 'active', attention: 'empty', emptyAt: null });
    // 1 credit granted, 2 used: nothing available, and the overage owed beside it (billed once, never from credits).
    expect(orgs[0].balances.agent).toMatchObject({ available: '0', overageOwed: '1', firing: ['depleted'] });
    expect(orgs[1]).toMatchObject({ orgId: dry, attention: 'dry-within-24h', runningSandboxes: 1 });
    // 9 h over the 24 h window and the current hour's part; 1 h left, of which the hold takes 0.5.
    expect(orgs[1].balances.sandbox).toMatchObject({ available: '0.5', held: '0.5' });
    expect(Number(orgs[1].balances.sandbox.burnPerHour)).toBeGreaterThan(0.35);
    expect(Number(orgs[1].balances.sandbox.burnPerHour)).toBeLessThanOrEqual(0.375);
    expect(orgs[1].balances.sandbox.firing).toContain('80%');
    const emptyIn = new Date(orgs[1].emptyAt!).getTime() - Date.now();
    expect(emptyIn).toBeGreaterThan(HOUR);
    expect(emptyIn).toBeLessThan(1.5 * HOUR);
    expect(orgs[2].attention).toBe('ok');
    // Second page: the rest, nothing twice.
    const next = await get('/v1/fleet?limit=1000&offset=1000');
    expect((next.body.organizations as FleetOrg[]).map((o) => o.orgId)).toHaveLength(2);
    console.log(`GET /v1/fleet?limit=1000 over 1,002 organizations: ${ms.toFixed(0)} ms`);
  });

  it('sorts by time to empty, filters by id or name, and refuses what it does not know', async () => {
    const byEmpty = (await get('/v1/fleet?sort=emptyAt&limit=2')).body.organizations as FleetOrg[];
    expect(byEmpty[0].orgId).toBe(dry);
    const one = (await get(`/v1/fleet?q=${dry.slice(-10).toLowerCase()}`)).body;
    expect(one.total).toBe(1);
    expect((await get('/v1/fleet?q=LOAD%20org&limit=1')).body.total).toBe(1_000);
    expect((await get('/v1/fleet?sort=balance')).body).toMatchObject({ code: 'INVALID_REQUEST', field: 'sort' });
    expect((await get('/v1/fleet?limit=1001')).status).toBe(400);
    expect((await get('/v1/fleet', {})).body).toMatchObject({ code: 'MISSING_CREDENTIALS' });
    expect((await get('/v1/pipeline', { 'x-service-token': 'wrong' })).status).toBe(401);
  });

  it("reports the pipeline's health: lag per partition, dead letters, outbox, dependencies", async () => {
    await expectEventually(async () => {
      const { status, body } = await get('/v1/pipeline');
      expect(status).toBe(200);
      const consumer = body.consumer as { polledAt: string | null; partitions: object[]; totalLag: number };
      expect(consumer.polledAt).not.toBeNull();
      expect(consumer.partitions.length).toBeGreaterThan(0);
      expect(consumer.partitions[0]).toMatchObject({ group: expect.stringContaining('metering'), lag: 0 });
      expect(consumer.totalLag).toBe(0);
      expect((body.deadLetters as unknown[]).length).toBeGreaterThan(0);
      expect(body.outbox).toMatchObject({ pending: expect.any(Number) });
      expect(body.dependencies).toMatchObject({ postgres: { status: 'up' }, redis: { status: 'up' } });
    }, 20_000);
  });

  it("lists an organization's running sandboxes and explains its balance from the ledger", async () => {
    const sandboxes = (await get(`/v1/orgs/${dry}/sandboxes`)).body as unknown as Record<string, unknown>[];
    expect(sandboxes).toEqual([expect.objectContaining({ sandboxId: 'sbx-live', shape: 'small', heldHours: '0.5' })]);
    const { body } = await get(`/v1/orgs/${dry}/balances/explain`);
    const sandbox = (body.balances as Record<string, Record<string, unknown>>).sandbox;
    expect(sandbox).toMatchObject({
      ledgerTotal: '1',
      packagesRemaining: '1',
      balanced: true,
      held: '0.5',
      available: '0.5',
    });
    expect(sandbox.entries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ entryType: 'grant', amountDisplay: '10' }),
        expect.objectContaining({ entryType: 'debit', amountDisplay: '-9' }),
      ]),
    );
    const agent = (await get(`/v1/orgs/${empty}/balances/explain`)).body.balances as Record<
      string,
      Record<string, unknown>
    >;
    expect(agent.agent).toMatchObject({ balanced: true, overageOwed: '1', available: '0' });
    const balances = (await get(`/v1/orgs/${empty}/balances`)).body.balances as Record<string, Record<string, unknown>>;
    expect(balances.agent).toMatchObject({ available: '0', overageOwed: '1' });
    expect(agent.agent.entries).toEqual(
      expect.arrayContaining([expect.objectContaining({ entryType: 'overage', onPackage: false })]),
    );
    expect((await get('/v1/orgs/ORG-01ARZ3NDEKTSV4RRFFQ69G5FAV/sandboxes')).status).toBe(404);
  });
});
