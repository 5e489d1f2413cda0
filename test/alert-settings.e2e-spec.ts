import { createDataSource } from '@tally/database';
import { createKafka } from '@tally/kafka';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { appUrl, startApp, verifySignature } from './apps';
import { agentUsage, publishAll, seedOrg, SERVICE_HEADERS } from './metering-harness';
import { startReceiver } from './ops-harness';

/**
 * Alerting configured per organization over the documented API: its own thresholds (the
 * process-wide ALERT_THRESHOLDS is only the default), and webhook endpoints with full CRUD.
 */
describe('alerting per organization: thresholds and webhook endpoints', () => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let db: DataSource;
  let producer: Producer;
  let url: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    ctx = await createTestContext();
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    receiver = await startReceiver(() => 200);
    app = await startApp(
      'metering',
      ctx.env({
        EXPIRY_INTERVAL_MS: '0',
        OUTBOX_POLL_MS: '50',
        NOTIFIER_POLL_MS: '50',
        ALERT_THRESHOLDS: '50,80,95,100',
      }),
    );
    url = appUrl(app);
    producer = createKafka('alert-settings-test', [ctx.kafkaBrokers]).producer();
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await receiver?.close();
    await app?.close();
    await db?.destroy();
    await ctx?.dispose();
  });

  const send = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? { 'x-service-token': SERVICE_HEADERS['x-service-token'] } : SERVICE_HEADERS,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  const debit = async (orgId: string, credits: number) => {
    const id = `debit-${ulid()}`;
    await publishAll(producer, [agentUsage(ctx.topicPrefix, orgId, credits * 1000, 'inference', id)]);
    await expectEventually(async () => {
      const [row] = await db.query('SELECT COUNT(*)::int AS n FROM processed_events WHERE id = $1', [id]);
      expect(row.n).toBe(1);
    }, 30_000);
  };
  const thresholdsFired = async (orgId: string) =>
    (
      await db.query(
        `SELECT threshold FROM balance_alerts WHERE org_id = $1 AND type = 'balance.threshold' ORDER BY created_at`,
        [orgId],
      )
    ).map((r: { threshold: string }) => Number(r.threshold));

  it("fires at the organization's own thresholds; the others keep ALERT_THRESHOLDS; null restores the default", async () => {
    const own = await seedOrg(db, { agentMc: 10_000n });
    const other = await seedOrg(db, { agentMc: 10_000n });
    expect((await send('GET', `/v1/orgs/${own}/alert-thresholds`)).body).toEqual({
      thresholds: [50, 80, 95, 100],
      source: 'default',
    });
    const set = await send('PUT', `/v1/orgs/${own}/alert-thresholds`, { thresholds: [90, 30, 30, 100] });
    expect(set).toEqual({ status: 200, body: { thresholds: [30, 90, 100], source: 'organization' } });

    await debit(own, 4); // 40 % consumed: past 30, below the default's 50
    await debit(other, 4);
    expect(await thresholdsFired(own)).toEqual([30]);
    expect(await thresholdsFired(other)).toEqual([]);

    for (const bad of [{ thresholds: [0] }, { thresholds: [101] }, { thresholds: 'x' }, {}, { thresholds: [] }])
      expect((await send('PUT', `/v1/orgs/${own}/alert-thresholds`, bad)).body).toMatchObject({
        code: 'INVALID_REQUEST',
        field: 'thresholds',
      });
    expect((await send('PUT', `/v1/orgs/ORG-${ulid()}/alert-thresholds`, { thresholds: [10] })).status).toBe(404);
    expect((await send('PUT', `/v1/orgs/${own}/alert-thresholds`, { thresholds: null })).body).toEqual({
      thresholds: [50, 80, 95, 100],
      source: 'default',
    });
    await debit(own, 2); // 60 %: the default's 50 fires now
    expect(await thresholdsFired(own)).toEqual([30, 50]);
  });

  it('lists, updates (url, rotated secret, revived), and deletes webhook endpoints; deliveries follow', async () => {
    const orgId = await seedOrg(db, { agentMc: 10_000n });
    await send('PUT', `/v1/orgs/${orgId}/alert-thresholds`, { thresholds: [10, 20, 100] });
    const created = await send('POST', `/v1/orgs/${orgId}/webhooks`, { url: `${receiver.url}/first` });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const witness = await send('POST', '/v1/ops/webhooks', { url: `${receiver.url}/witness-${orgId}` });

    const listed = await send('GET', `/v1/orgs/${orgId}/webhooks`);
    expect(listed.body).toEqual([
      { id, orgId, url: `${receiver.url}/first`, status: 'active', consecutiveFailures: 0 },
    ]);
    expect((await send('GET', '/v1/ops/webhooks')).body).toContainEqual(
      expect.objectContaining({ id: witness.body.id }),
    );
    expect((await send('GET', `/v1/orgs/ORG-${ulid()}/webhooks`)).status).toBe(404);

    const rotated = await send('PATCH', `/v1/webhooks/${id}`, { url: `${receiver.url}/second`, secret: 'rotate' });
    expect(rotated.body).toMatchObject({ url: `${receiver.url}/second`, secret: expect.stringMatching(/^whsec_/) });
    expect(rotated.body.secret).not.toBe(created.body.secret);
    expect((await send('PATCH', `/v1/webhooks/${id}`, { secret: 'short' })).body).toMatchObject({ field: 'secret' });
    expect((await send('PATCH', `/v1/webhooks/${id}`, {})).body).toMatchObject({ code: 'INVALID_REQUEST' });

    await debit(orgId, 1); // 10 %: delivered to the new url, signed with the new secret
    const delivered = await expectEventually(async () => {
      const hit = receiver.received.find((r) => r.path === '/second');
      expect(hit).toBeDefined();
      return hit!;
    }, 20_000);
    const now = Math.floor(Date.now() / 1000);
    expect(
      verifySignature(rotated.body.secret, delivered.body, delivered.headers['x-tally-signature'] as string, now),
    ).toBe(true);
    expect(receiver.received.some((r) => r.path === '/first')).toBe(false);

    await db.query(`UPDATE webhook_endpoints SET status = 'dead', consecutive_failures = 5 WHERE id = $1`, [id]);
    expect((await send('PATCH', `/v1/webhooks/${id}`, { status: 'active' })).body).toMatchObject({
      status: 'active',
      consecutiveFailures: 0,
    });

    expect((await send('DELETE', `/v1/webhooks/${id}`)).status).toBe(204);
    expect((await send('GET', `/v1/webhooks/${id}`)).status).toBe(404);
    expect((await send('DELETE', `/v1/webhooks/${id}`)).status).toBe(404);
    expect((await send('GET', `/v1/orgs/${orgId}/webhooks`)).body).toEqual([]);
    await debit(orgId, 1); // 20 %: the witness gets it, the deleted endpoint nothing
    const twenty = (r: { headers: Record<string, unknown> }) =>
      String(r.headers['x-tally-event-id']).includes('-agent-20-');
    await expectEventually(
      async () => expect(receiver.received.filter((r) => r.path === `/witness-${orgId}` && twenty(r))).toHaveLength(1),
      20_000,
    );
    expect(receiver.received.filter((r) => r.path === '/second' && twenty(r))).toEqual([]);
  });

  it('documents the signature format in OpenAPI', async () => {
    const openapi = JSON.stringify(await (await fetch(`${url}/docs/openapi.json`)).json());
    expect(openapi).toContain('x-tally-signature: t=<unix seconds>,v1=<hex HMAC-SHA256>');
    expect(openapi).toContain('300 s');
  });

  it('refuses webhook targets on this host, private networks or cloud metadata outside development', async () => {
    const strict = await startApp(
      'metering',
      ctx.env({ WEBHOOK_PRIVATE_TARGETS: 'deny', NOTIFIER: 'false', OUTBOX_RELAY: 'false', EXPIRY_INTERVAL_MS: '0' }),
    );
    try {
      const orgId = await seedOrg(db, { agentMc: 0n });
      const register = (target: string) =>
        fetch(`${appUrl(strict)}/v1/orgs/${orgId}/webhooks`, {
          method: 'POST',
          headers: SERVICE_HEADERS,
          body: JSON.stringify({ url: target }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
      for (const target of [
        'http://127.0.0.1:6379/',
        'http://169.254.169.254/latest/meta-data',
        'http://[::1]:3000/',
        'http://localhost/x',
        'http://metadata.google.internal/',
      ])
        expect({ target, ...(await register(target)) }).toMatchObject({
          target,
          status: 400,
          body: { code: 'INVALID_REQUEST', field: 'url' },
        });
      expect((await register('https://hooks.example.com/tally')).status).toBe(201);
    } finally {
      await strict.close();
    }
  });
});
