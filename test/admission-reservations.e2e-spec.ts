import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DEFAULT_KEY_PREFIX } from '@tally/contracts';
import { DemoOrganization, seedDemoOrganization } from '@tally/database';
import { balanceKeys } from '@tally/redis';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { appUrl, startApp } from './apps';
import { authEnv, call, openDatabase, quotaEnv, service, verify } from './auth-harness';

/**
 * What quota reserves, end to end through auth, quota and metering on real Kafka, PostgreSQL and
 * Redis (issue 10, items 6, 7 and 10):
 * - item 6: agent.run reserves its fixed cost, so 50 concurrent runs with one credit left admit
 *   one; the per-org overdraft limit lets runs go below zero, and the overage run up counts
 *   against it; a released run gives its credit back;
 * - item 7: sandbox.extend is reserved at the price of the sandbox it names, never at the caller's
 *   shape; an extend of a sandbox that does not run is refused (404);
 * - item 10: sandbox.create, extend and delete must name their sandbox (400 naming resource.id),
 *   so a create is never held under its admission id beside its runtime's sandbox id.
 */
describe('admission reservations', () => {
  jest.setTimeout(300_000);
  let ctx: TestContext;
  let db: DataSource;
  let redis: Redis;
  const apps: NestFastifyApplication[] = [];
  let authUrl: string;
  let quotaUrl: string;
  let meteringUrl: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    db = await openDatabase(ctx);
    redis = new Redis(ctx.redisUrl);
    // Generous deadlines: these tests are about decisions, on a shared 2-core machine.
    const quota = await startApp('quota', ctx.env({ ADMISSION_TIMEOUT_MS: '3000', REDIS_TIMEOUT_MS: '2000' }));
    apps.push(quota);
    quotaUrl = appUrl(quota);
    const metering = await startApp('metering', ctx.env());
    apps.push(metering);
    meteringUrl = appUrl(metering);
    const auth = await startApp('auth', { ...authEnv(ctx), ...quotaEnv(appUrl(quota)), QUOTA_TIMEOUT_MS: '3000' });
    apps.push(auth);
    authUrl = appUrl(auth);
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    redis?.disconnect();
    await db?.destroy();
    await ctx?.dispose();
  });

  /** An org on the enterprise plan (rate limits far above these bursts, every shape allowed). */
  const newOrg = async (sandboxMs: bigint, agentMc: bigint): Promise<DemoOrganization> => {
    const org = await seedDemoOrganization(db, {
      keyPrefix: DEFAULT_KEY_PREFIX,
      pepper: authEnv(ctx).API_KEY_PEPPER,
      sandboxMs,
      agentMc,
    });
    await db.query(`UPDATE organizations SET plan = 'enterprise' WHERE id = $1`, [org.orgId]);
    return org;
  };
  const agentRun = (org: DemoOrganization) =>
    verify(authUrl, { key: org.apiKey, action: 'agent.run', orgId: org.orgId });
  /** `n` agent runs at once: how many were admitted (and their admission ids), and what the others answered. */
  const agentRuns = async (org: DemoOrganization, n: number) => {
    const answers = await Promise.all(Array.from({ length: n }, () => agentRun(org)));
    const refused = answers.filter((answer) => answer.status !== 200);
    return {
      admitted: answers.length - refused.length,
      refused: [...new Set(refused.map((answer) => `${answer.status} ${answer.body.code as string}`))],
      admissions: answers.filter((a) => a.status === 200).map((a) => a.body.admissionId as string),
    };
  };
  const agentLedger = async (orgId: string): Promise<Record<string, string>> => {
    const rows: { entry_type: string; net: string }[] = await db.query(
      `SELECT entry_type, SUM(amount)::text AS net FROM ledger_entries
        WHERE org_id = $1 AND kind = 'agent' AND entry_type <> 'grant' GROUP BY entry_type ORDER BY entry_type`,
      [orgId],
    );
    return Object.fromEntries(rows.map((row) => [row.entry_type, row.net]));
  };
  const cached = (orgId: string, field: string) => redis.hget(balanceKeys(ctx.redisPrefix, orgId).balance, field);
  const provisionalAgent = (orgId: string) => redis.get(balanceKeys(ctx.redisPrefix, orgId).provisionalAgentTotal);

  it('item 6: 50 concurrent agent runs with one credit left: exactly one is admitted', async () => {
    const org = await newOrg(0n, 1_000n);
    const race = await agentRuns(org, 50);
    expect({ admitted: race.admitted, refused: race.refused }).toEqual({
      admitted: 1,
      refused: ['402 INSUFFICIENT_AGENT_CREDITS'],
    });
    // Metering debits the run's fixed cost; its provisional hold goes with the same snapshot.
    await expectEventually(async () => {
      expect(await agentLedger(org.orgId)).toEqual({ debit: '-1000' });
      expect(await cached(org.orgId, 'agent_mc')).toBe('0');
      expect(['0', null]).toContain(await provisionalAgent(org.orgId));
    }, 60_000);
    expect((await agentRun(org)).status).toBe(402);
  });

  it('item 6: the overdraft limit admits runs below zero, and the overage run up counts against it', async () => {
    const org = await newOrg(0n, 0n);
    expect((await agentRun(org)).status).toBe(402);
    const set = await call(meteringUrl, 'PUT', `/v1/orgs/${org.orgId}/overdraft`, {
      headers: service,
      body: { agentCredits: '2' },
    });
    expect(set).toMatchObject({
      status: 200,
      body: { orgId: org.orgId, agentCredits: '2', agentMilliCredits: '2000' },
    });
    expect(await cached(org.orgId, 'overdraft_mc')).toBe('2000');
    const race = await agentRuns(org, 10);
    expect({ admitted: race.admitted, refused: race.refused }).toEqual({
      admitted: 2,
      refused: ['402 INSUFFICIENT_AGENT_CREDITS'],
    });
    // Both fixed costs found no package: overage, which admission now counts as debt.
    await expectEventually(async () => {
      expect(await agentLedger(org.orgId)).toEqual({ overage: '-2000' });
      expect(await cached(org.orgId, 'agent_debt_mc')).toBe('2000');
      expect(['0', null]).toContain(await provisionalAgent(org.orgId));
    }, 60_000);
    expect((await agentRuns(org, 5)).admitted).toBe(0);

    const invalid = await call(meteringUrl, 'PUT', `/v1/orgs/${org.orgId}/overdraft`, {
      headers: service,
      body: { agentCredits: '-1' },
    });
    expect(invalid).toMatchObject({ status: 400, body: { code: 'INVALID_REQUEST', field: 'agentCredits' } });
    const openapi = await call(meteringUrl, 'GET', '/docs/openapi.json');
    expect(Object.keys((openapi.body as { paths: Record<string, object> }).paths)).toContain(
      '/v1/orgs/{orgId}/overdraft',
    );
  });

  it("item 6: overage is owed once: it uses up the overdraft, never a later package's credits", async () => {
    const org = await newOrg(0n, 0n);
    await call(meteringUrl, 'PUT', `/v1/orgs/${org.orgId}/overdraft`, {
      headers: service,
      body: { agentCredits: '2' },
    });
    expect((await agentRuns(org, 5)).admitted).toBe(2);
    await expectEventually(async () => {
      expect(await agentLedger(org.orgId)).toEqual({ overage: '-2000' });
      expect(await cached(org.orgId, 'agent_debt_mc')).toBe('2000');
    }, 60_000);
    // The overdraft withdrawn, then a package bought.
    await call(meteringUrl, 'PUT', `/v1/orgs/${org.orgId}/overdraft`, {
      headers: service,
      body: { agentCredits: '0' },
    });
    await expectEventually(async () => expect(await cached(org.orgId, 'overdraft_mc')).toBe('0'), 60_000);
    const grant = await call(meteringUrl, 'POST', `/v1/orgs/${org.orgId}/packages`, {
      headers: service,
      body: { sandboxHours: '0', agentCredits: '3', source: 'billing', externalId: `topup-${org.orgId}` },
    });
    expect(grant.status).toBe(201);
    // The 3 credits bought are 3 runs: the 2 of overage are owed (invoiced), not taken again from the package.
    await expectEventually(async () => expect(await cached(org.orgId, 'agent_mc')).toBe('3000'), 60_000);
    const runs = await agentRuns(org, 6);
    expect({ admitted: runs.admitted, refused: runs.refused }).toEqual({
      admitted: 3,
      refused: ['402 INSUFFICIENT_AGENT_CREDITS'],
    });
  });

  it("item 6: a released agent run gives its credit back (quota's hold at once, or metering's reversal)", async () => {
    const org = await newOrg(0n, 1_000n);
    const first = await agentRuns(org, 5);
    expect(first.admitted).toBe(1);
    const admissionId = first.admissions[0];
    const released = await call(quotaUrl, 'DELETE', `/v1/admissions/${admissionId}?orgId=${org.orgId}`, {
      headers: service,
    });
    expect(released.status).toBe(200);
    const again = await expectEventually(async () => {
      const answer = await agentRun(org);
      expect(answer.status).toBe(200);
      return answer;
    }, 60_000);
    // Metering voids the first run (reversing its debit if that came first) and debits the second: one credit net.
    await expectEventually(async () => {
      const [fate] = await db.query('SELECT fate FROM admission_fates WHERE org_id = $1 AND admission_id = $2', [
        org.orgId,
        admissionId,
      ]);
      expect(fate?.fate).toBe('voided');
      const posted = await db.query('SELECT 1 FROM ledger_entries WHERE org_id = $1 AND event_id = $2', [
        org.orgId,
        again.body.eventId,
      ]);
      expect(posted.length).toBeGreaterThan(0);
      const net = Object.values(await agentLedger(org.orgId)).reduce((sum, amount) => sum + BigInt(amount), 0n);
      expect(net).toBe(-1000n);
    }, 60_000);
  });

  /** A gpu sandbox (12.5 sandbox hours per hour) for 60 s, and its durable hold in PostgreSQL. */
  const gpuSandbox = async (org: DemoOrganization, sandboxId: string) => {
    const created = await verify(authUrl, {
      key: org.apiKey,
      action: 'sandbox.create',
      orgId: org.orgId,
      resource: { type: 'sandbox', id: sandboxId },
      params: { shape: 'gpu', maxLifeSeconds: 60 },
    });
    expect(created.status).toBe(200);
    await expectEventually(async () => {
      const holds = await db.query('SELECT price_per_hour FROM holds WHERE org_id = $1 AND sandbox_id = $2', [
        org.orgId,
        sandboxId,
      ]);
      expect(holds).toEqual([{ price_per_hour: '12.5' }]);
    }, 60_000);
  };
  const extendAsMicro = (org: DemoOrganization, sandboxId: string, extendSeconds: number) =>
    verify(authUrl, {
      key: org.apiKey,
      action: 'sandbox.extend',
      orgId: org.orgId,
      resource: { type: 'sandbox', id: sandboxId },
      params: { shape: 'micro', extendSeconds },
    });

  it('item 7: an extend "as micro" of a gpu sandbox is reserved at the gpu price', async () => {
    // 10 h: one more gpu hour (12.5 h) does not fit, a micro hour (0.5 h) would.
    const org = await newOrg(36_000_000n, 0n);
    await gpuSandbox(org, 'SBX-gpu-1');
    const refused = await extendAsMicro(org, 'SBX-gpu-1', 3600);
    expect(refused).toMatchObject({
      status: 402,
      body: { code: 'INSUFFICIENT_SANDBOX_HOURS', message: expect.stringContaining('needs 12.5 sandbox hours') },
    });
    // Quota's own answer names the reserve: 10 minutes at 12.5 = 2.083333 h, not 0.083333 h.
    const admitted = await call(quotaUrl, 'POST', '/v1/admissions', {
      headers: service,
      body: {
        orgId: org.orgId,
        keyId: org.keyId,
        action: 'sandbox.extend',
        admissionId: `extend-${org.orgId}`,
        resource: { type: 'sandbox', id: 'SBX-gpu-1' },
        params: { shape: 'micro', extendSeconds: 600 },
      },
    });
    expect(admitted).toMatchObject({ status: 200, body: { admitted: true, reservedMs: '7500000' } });
  });

  it('item 7: an extend of a sandbox that does not run is refused clearly (404 about resource.id)', async () => {
    const org = await newOrg(36_000_000n, 0n);
    const unknown = await extendAsMicro(org, 'SBX-never-created', 60);
    expect(unknown).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND', message: expect.stringMatching(/^No running sandbox with this resource\.id/) },
    });
    expect(await redis.get(balanceKeys(ctx.redisPrefix, org.orgId).provisionalTotal)).toBeNull();
  });

  it.each([
    ['sandbox.create', { shape: 'small', maxLifeSeconds: 600 }],
    ['sandbox.extend', { extendSeconds: 600 }],
    ['sandbox.delete', {}],
  ])('item 10: %s without resource.id answers 400 naming resource.id, and nothing is held', async (action, params) => {
    const org = await newOrg(36_000_000n, 0n);
    const refused = await verify(authUrl, { key: org.apiKey, action, orgId: org.orgId, params });
    expect(refused).toMatchObject({
      status: 400,
      body: {
        code: 'INVALID_REQUEST',
        field: 'resource.id',
        message: expect.stringContaining('must name its sandbox'),
        requestId: expect.any(String),
      },
    });
    expect(await redis.get(balanceKeys(ctx.redisPrefix, org.orgId).provisionalTotal)).toBeNull();
    expect(await db.query('SELECT 1 FROM holds WHERE org_id = $1', [org.orgId])).toEqual([]);
  });
});
