import {
  cloudEvent,
  DEFAULT_KEY_PREFIX,
  deadLetterTopic,
  generateApiKey,
  hashKeySecret,
  Topics,
  topicName,
} from '@tally/contracts';
import { ApiKeyEntity } from '@tally/database';
import { createKafka } from '@tally/kafka';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Kafka, KafkaMessage, Producer } from 'kafkajs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { authEnv, call, newOrgId, openDatabase, quotaEnv, service, verify } from './auth-harness';
import { appUrl, startApp } from './apps';

/**
 * Organizations created and changed by the platform (docs/ORGANIZATIONS.md), over metering's
 * internal API and platform.org.v1, seen by auth (suspension) and quota (plan limits) at once.
 */
describe('organizations: the platform creates, re-plans, suspends and resumes them', () => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let db: DataSource;
  let kafka: Kafka;
  let producer: Producer;
  let dlqReader: ReturnType<Kafka['consumer']>;
  const dead: KafkaMessage[] = [];
  const apps: NestFastifyApplication[] = [];
  let authUrl: string;
  let meteringUrl: string;
  let pepper: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    const env = authEnv(ctx);
    pepper = env.API_KEY_PEPPER!;
    db = await openDatabase(ctx);
    // A catalog refreshed hourly: a plan change must not wait for it.
    const quota = await startApp('quota', ctx.env({ CATALOG_REFRESH_SECONDS: '3600', ADMISSION_TIMEOUT_MS: '3000' }));
    apps.push(quota);
    const metering = await startApp('metering', ctx.env({ EXPIRY_INTERVAL_MS: '0', CONSUMER_MAX_BACKOFF_MS: '500' }));
    apps.push(metering);
    const auth = await startApp('auth', { ...env, ...quotaEnv(appUrl(quota)), QUOTA_TIMEOUT_MS: '3000' });
    apps.push(auth);
    authUrl = appUrl(auth);
    meteringUrl = appUrl(metering);
    kafka = createKafka('orgs-test', [ctx.kafkaBrokers]);
    producer = kafka.producer();
    await producer.connect();
    dlqReader = kafka.consumer({ groupId: `dlq-reader-${ulid()}`, maxWaitTimeInMs: 100 });
    await dlqReader.connect();
    await dlqReader.subscribe({
      topics: [deadLetterTopic(topicName(ctx.topicPrefix, Topics.platformOrg))],
      fromBeginning: true,
    });
    await dlqReader.run({ eachMessage: async ({ message }) => void dead.push(message) });
  });

  afterAll(async () => {
    await dlqReader?.disconnect();
    await producer?.disconnect();
    for (const app of apps.reverse()) await app.close();
    await db?.destroy();
    await ctx?.dispose();
  });

  const orgs = (method: string, path = '', body?: unknown) =>
    call(meteringUrl, method, `/v1/orgs${path}`, { headers: service, body });

  async function keyFor(orgId: string): Promise<string> {
    const key = generateApiKey(DEFAULT_KEY_PREFIX);
    await db.getRepository(ApiKeyEntity).insert({
      id: key.lookupId,
      orgId,
      createdBy: `USR-${ulid()}`,
      name: 'orgs test',
      displayPrefix: key.displayPrefix,
      secretHash: hashKeySecret(pepper, key.secret),
    });
    return key.plaintext;
  }

  const createSandbox = (orgId: string, key: string, shape = 'small') =>
    verify(authUrl, {
      key,
      action: 'sandbox.create',
      orgId,
      resource: { type: 'sandbox', id: `SBX-${ulid()}` },
      params: { shape, maxLifeSeconds: 600 },
    });

  async function orgWithBalance(plan?: string): Promise<{ orgId: string; key: string }> {
    const created = await orgs('POST', '', { name: 'Acme', ...(plan ? { plan } : {}) });
    expect(created.status).toBe(201);
    const orgId = created.body.id as string;
    const granted = await call(meteringUrl, 'POST', `/v1/orgs/${orgId}/packages`, {
      headers: service,
      body: { sandboxHours: '100', agentCredits: '10', source: 'billing', externalId: `grant-${orgId}` },
    });
    expect(granted.status).toBe(201);
    return { orgId, key: await keyFor(orgId) };
  }

  it('creates, reads and renames an organization over the internal API, with errors by name', async () => {
    const id = newOrgId();
    const created = await orgs('POST', '', { id, name: 'Acme', plan: 'pro' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id, name: 'Acme', plan: 'pro', status: 'active', version: 1 });
    expect((await orgs('POST', '', { id, name: 'Again' })).body).toMatchObject({ code: 'CONFLICT', field: 'id' });
    expect((await orgs('POST', '', { name: 'X', plan: 'platinum' })).body).toMatchObject({
      code: 'INVALID_REQUEST',
      field: 'plan',
    });
    const renamed = await orgs('PATCH', `/${id}`, { name: 'Acme Corp' });
    expect(renamed.body).toMatchObject({ name: 'Acme Corp', plan: 'pro', version: 2 });
    expect((await orgs('GET', `/${id}`)).body).toMatchObject({ name: 'Acme Corp', version: 2 });
    expect((await orgs('GET', `/${newOrgId()}`)).status).toBe(404);
    expect((await orgs('PATCH', `/${id}`, {})).body).toMatchObject({ code: 'INVALID_REQUEST' });
    expect((await call(meteringUrl, 'POST', '/v1/orgs', { body: { name: 'no credential' } })).status).toBe(401);
    const openapi = (await (await fetch(`${meteringUrl}/docs/openapi.json`)).json()) as {
      paths: Record<string, object>;
    };
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining(['/v1/orgs', '/v1/orgs/{orgId}', '/v1/orgs/{orgId}/suspend', '/v1/orgs/{orgId}/resume']),
    );
  });

  it("suspends: every verify but sandbox.delete answers 403 ORG_SUSPENDED within 1 s, the running sandbox's hold is kept; resume lifts it", async () => {
    const { orgId, key } = await orgWithBalance();
    expect((await createSandbox(orgId, key)).status).toBe(200);
    const held = async () =>
      (await db.query('SELECT reserved_ms FROM holds WHERE org_id = $1', [orgId])) as { reserved_ms: string }[];
    await expectEventually(async () => expect(await held()).toHaveLength(1), 30_000);
    // Warm every cache first: the suspension must get past them.
    expect((await verify(authUrl, { key, action: 'sandbox.list', orgId })).status).toBe(200);

    const suspended = await orgs('POST', `/${orgId}/suspend`, { reason: 'unpaid invoice' });
    expect(suspended.body).toMatchObject({ status: 'suspended', suspendedReason: 'unpaid invoice' });
    const since = Date.now();
    const refused = await expectEventually(async () => {
      const answer = await verify(authUrl, { key, action: 'sandbox.list', orgId });
      expect(answer.status).toBe(403);
      return answer;
    }, 1_000);
    expect(Date.now() - since).toBeLessThan(1_000);
    expect(refused.body).toMatchObject({ code: 'ORG_SUSPENDED' });
    expect((await createSandbox(orgId, key)).body).toMatchObject({ code: 'ORG_SUSPENDED' });
    // The running sandbox keeps its hold; nothing was released or charged by the suspension.
    expect(await held()).toHaveLength(1);
    // Stopping what runs (and is still billed) stays possible while suspended.
    const [{ sandbox_id: running }] = await db.query('SELECT sandbox_id FROM holds WHERE org_id = $1', [orgId]);
    const stop = await verify(authUrl, {
      key,
      action: 'sandbox.delete',
      orgId,
      resource: { type: 'sandbox', id: running },
    });
    expect(stop.status).toBe(200);

    expect((await orgs('POST', `/${orgId}/resume`)).body).toMatchObject({ status: 'active', suspendedReason: null });
    await expectEventually(
      async () => expect((await verify(authUrl, { key, action: 'sandbox.list', orgId })).status).toBe(200),
      1_000,
    );
  });

  it("changes the plan: the new tier and concurrency limit apply to the org's next admission", async () => {
    const { orgId, key } = await orgWithBalance('free');
    // free: tier 0 (large needs 1), 2 sandboxes at once.
    expect((await createSandbox(orgId, key, 'large')).body).toMatchObject({ code: 'PLAN_TIER_TOO_LOW' });
    expect((await createSandbox(orgId, key)).status).toBe(200);
    expect((await createSandbox(orgId, key)).status).toBe(200);
    expect((await createSandbox(orgId, key)).body).toMatchObject({ code: 'CONCURRENT_SANDBOX_LIMIT' });

    expect((await orgs('PATCH', `/${orgId}`, { plan: 'pro' })).body).toMatchObject({ plan: 'pro' });
    await expectEventually(async () => expect((await createSandbox(orgId, key, 'large')).status).toBe(200), 1_000);
    expect((await createSandbox(orgId, key)).status).toBe(200);
  });

  it('applies platform.org.v1 idempotently and dead-letters events that cannot apply, with the reason', async () => {
    const orgId = newOrgId();
    const topic = topicName(ctx.topicPrefix, Topics.platformOrg);
    const event = (data: Record<string, unknown>, id = ulid(), key = orgId) => ({
      key,
      value: JSON.stringify(
        cloudEvent({ id, source: '//platform/test', type: 'org.requested', subject: orgId, data: { orgId, ...data } }),
      ),
    });
    const create = event({ operation: 'create', name: 'From Kafka', plan: 'team' });
    const suspend = event({ operation: 'suspend', reason: 'fraud review' });
    await producer.send({
      topic,
      messages: [
        create,
        create, // redelivered: nothing more
        event({ operation: 'rename', name: 'Renamed' }),
        suspend,
        suspend,
        event({ operation: 'change_plan', plan: 'platinum' }), // unknown plan
        event({ operation: 'rename' }), // no name
        event({ operation: 'resume' }, ulid(), newOrgId()), // key names another org
        event({ operation: 'rename', name: 'Ghost' }),
      ],
    });
    await expectEventually(async () => {
      const [row] = await db.query(
        'SELECT name, plan, status, suspended_reason, version FROM organizations WHERE id = $1',
        [orgId],
      );
      expect(row).toEqual({
        name: 'Ghost',
        plan: 'team',
        status: 'suspended',
        suspended_reason: 'fraud review',
        version: 4,
      });
    }, 30_000);
    const reasons = await expectEventually(async () => {
      const found = dead.map((m) => m.headers!['x-dlq-reason']!.toString());
      expect(found).toHaveLength(3);
      return found;
    }, 30_000);
    expect(reasons.sort()).toEqual([
      expect.stringContaining('INVALID_REQUEST: plan is not a plan of the catalog'),
      expect.stringContaining('data.name: is required for rename'),
      expect.stringContaining('the Kafka key, subject and data.orgId must name the same organization'),
    ]);
    // Counted for on-call: the dead letters in metering's gauge (polled every 5 s).
    const dlq = deadLetterTopic(topic).replace(/\./g, '\\.');
    await expectEventually(async () => {
      const metrics = await (await fetch(`${meteringUrl}/metrics`)).text();
      expect(metrics).toMatch(new RegExp(`^tally_dlq_messages\\{topic="${dlq}"[^}]*\\} 3$`, 'm'));
    }, 15_000);
    // Over HTTP the same organization reads as the events left it.
    expect((await orgs('GET', `/${orgId}`)).body).toMatchObject({ name: 'Ghost', status: 'suspended' });
  });

  it("runs the README's organization, alert-threshold and webhook curl lines as written", async () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```bash\n([\s\S]*?)```/g)]
      .map((m) => m[1])
      .filter((block) => /\/v1\/orgs|\/v1\/webhooks/.test(block) && !/npm /.test(block));
    expect(blocks).toHaveLength(3);
    // Against this test's metering and credential; every curl must answer 2xx (--fail-with-body).
    const script = [
      'set -euo pipefail',
      'curl() { command curl --fail-with-body "$@"; echo; }',
      ...blocks,
      'curl -s -H "$T" $M/v1/orgs/$ORG',
      'curl -s -H "$T" $M/v1/orgs/$ORG/alert-thresholds',
    ]
      .join('\n')
      .replaceAll('http://127.0.0.1:3002', meteringUrl)
      .replaceAll('dev-service-token', service['x-service-token']);
    // Asynchronously: the apps answering the curls run in this process.
    const { stdout: out } = await promisify(execFile)('bash', ['-c', script], { encoding: 'utf8', timeout: 30_000 });
    const lines = out.trim().split('\n');
    expect(lines.at(-2)).toMatch(/"plan":"team","status":"active"/);
    expect(lines.at(-1)).toBe('{"thresholds":[25,50,90,100],"source":"organization"}');
    expect(out).toContain('"status":"suspended","suspendedReason":"unpaid"');
    expect(out).toMatch(/"secret":"whsec_/);
  });
});
