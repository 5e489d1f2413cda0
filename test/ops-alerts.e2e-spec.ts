import { createDataSource } from '@tally/database';
import { createKafka } from '@tally/kafka';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { agentUsage, publishAll, seedOrg, SERVICE_HEADERS } from './metering-harness';
import { agentUsageAt, startReceiver } from './ops-harness';
import { appUrl, startApp, verifySignature } from './apps';

/**
 * Depletion alerts end to end: usage over Kafka → ledger + alert state + outbox (one transaction)
 * → metering.alerts.v1 → the notifier (Nest Kafka transport) → signed webhooks with retries, on a
 * receiver that fails each alert's first two attempts; a grant re-arms the thresholds; a steady
 * burn raises the forecast once; a failing endpoint dies and a hanging one delays no one.
 */
describe('ops: depletion alerts and webhook delivery', () => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let db: DataSource;
  let producer: Producer;
  let url: string;
  let prefix: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const SECRET = 'org-secret-0123456789abcdef';
  const OPS_SECRET = 'ops-secret-0123456789abcdef';

  beforeAll(async () => {
    ctx = await createTestContext();
    prefix = ctx.topicPrefix;
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    receiver = await startReceiver((path, _eventId, attempt) => {
      if (path === '/org') return attempt <= 2 ? 500 : 200; // each alert: fails twice, then accepted
      if (path === '/broken') return 503;
      if (path === '/slow') return 'hang';
      return 200;
    });
    app = await startApp(
      'metering',
      ctx.env({
        EXPIRY_INTERVAL_MS: '0',
        OUTBOX_POLL_MS: '50',
        NOTIFIER_POLL_MS: '50',
        NOTIFIER_BACKOFF_MS: '40',
        NOTIFIER_DEAD_AFTER: '2',
        NOTIFIER_MAX_ATTEMPTS: '5',
        NOTIFIER_TIMEOUT_MS: '20000',
        CONSUMER_SESSION_TIMEOUT_MS: '10000',
      }),
    );
    url = appUrl(app);
    producer = createKafka('ops-alerts-test', [ctx.kafkaBrokers]).producer();
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await receiver?.close(); // first: the hanging requests end, so the notifier drains at once
    await app?.close();
    await db?.destroy();
    await ctx?.dispose();
  });

  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, { method: 'POST', headers: SERVICE_HEADERS, body: JSON.stringify(body) });
  const get = async (path: string) => {
    const response = await fetch(`${url}${path}`, { headers: SERVICE_HEADERS });
    expect(response.status).toBe(200);
    return response.json();
  };
  const processed = async (ids: string[]) =>
    Number((await db.query('SELECT COUNT(*)::int AS n FROM processed_events WHERE id = ANY($1)', [ids]))[0].n);
  let n = 0;
  /** Debits `credits` agent credits and waits until the batch is posted. */
  const debit = async (orgId: string, credits: number) => {
    const id = `debit-${++n}`;
    await publishAll(producer, [agentUsage(prefix, orgId, credits * 1000, 'inference', id)]);
    await expectEventually(async () => expect(await processed([id])).toBe(1), 30_000);
  };
  const thresholdAlerts = async (orgId: string) =>
    (
      await db.query(
        `SELECT id, threshold FROM balance_alerts WHERE org_id = $1 AND type IN ('balance.threshold', 'balance.depleted') ORDER BY created_at, threshold::int`,
        [orgId],
      )
    ).map((r: { id: string; threshold: string }) => r);

  it('50/80/95% and depletion: one alert each, delivered once, signed, after two failed attempts; a grant re-arms them', async () => {
    const orgId = await seedOrg(db, { agentMc: 100_000n }); // 100 credits
    const hook = await post(`/v1/orgs/${orgId}/webhooks`, { url: `${receiver.url}/org`, secret: SECRET });
    expect(hook.status).toBe(201);
    const endpoint = (await hook.json()) as { id: string };
    const broken = (await (await post('/v1/ops/webhooks', { url: `${receiver.url}/broken` })).json()) as { id: string };
    const slow = (await (
      await post('/v1/ops/webhooks', { url: `${receiver.url}/slow`, secret: OPS_SECRET })
    ).json()) as {
      id: string;
    };

    for (const credits of [40, 15, 26, 15, 4]) await debit(orgId, credits); // 40, 55, 81, 96, 100 %
    expect((await thresholdAlerts(orgId)).map((a: { threshold: string }) => a.threshold)).toEqual([
      '50',
      '80',
      '95',
      '100',
    ]);

    // A grant lifting the balance to 25% consumed re-arms all four; consuming it all fires them again.
    const granted = await post(`/v1/orgs/${orgId}/packages`, {
      sandboxHours: '0',
      agentCredits: '300',
      source: 'test',
      externalId: 'rearm',
    });
    expect(granted.status).toBe(201);
    // 52.5, 82.5, 100 % of 400: the last debit crosses 95 and empties it, so only depletion is raised.
    for (const credits of [110, 120, 70]) await debit(orgId, credits);
    const alerts = await thresholdAlerts(orgId);
    expect(alerts.map((a: { threshold: string }) => a.threshold)).toEqual(['50', '80', '95', '100', '50', '80', '100']);
    expect(new Set(alerts.map((a: { id: string }) => a.id)).size).toBe(7);
    // The top-up resolved the first depletion with one balance.replenished.
    expect(
      await db.query(`SELECT id FROM balance_alerts WHERE org_id = $1 AND type = 'balance.replenished'`, [orgId]),
    ).toHaveLength(1);

    // Each alert reaches the org endpoint exactly once with a 2xx, signed, after two refused attempts.
    const ids = alerts.map((a: { id: string }) => a.id);
    await expectEventually(
      () => {
        const accepted = receiver.received.filter((r) => r.path === '/org' && r.status === 200);
        expect(accepted.map((r) => r.headers['x-tally-event-id']).sort()).toEqual(
          expect.arrayContaining([...ids].sort()),
        );
      },
      60_000,
      100,
    );
    const now = Math.floor(Date.now() / 1000);
    for (const id of ids) {
      const tries = receiver.received.filter((r) => r.path === '/org' && r.headers['x-tally-event-id'] === id);
      expect(tries.map((r) => r.status)).toEqual([500, 500, 200]);
      for (const t of tries) {
        expect(verifySignature(SECRET, t.body, t.headers['x-tally-signature'] as string, now)).toBe(true);
        expect(verifySignature(OPS_SECRET, t.body, t.headers['x-tally-signature'] as string, now)).toBe(false);
        expect(JSON.parse(t.body)).toMatchObject({
          id,
          type: expect.stringMatching(/^balance\.(threshold|depleted)$/),
          subject: orgId,
          data: { orgId },
        });
      }
    }

    // The delivery log is queryable per endpoint (the successful attempt is logged once the
    // receiver's answer is back, which may be just after the receiver saw the request).
    await expectEventually(async () => {
      const log = (await get(`/v1/webhooks/${endpoint.id}/deliveries?limit=1000`)) as {
        alertId: string;
        ok: boolean;
      }[];
      for (const id of ids) expect(log.filter((a) => a.alertId === id).map((a) => a.ok)).toEqual([true, false, false]);
    });

    // The always-failing ops endpoint is dead after two deliveries given up (5 attempts each), and
    // nothing more is sent to it; the hanging one (20 s timeout, still in flight) held up no one.
    await expectEventually(async () => {
      const dead = (await get(`/v1/webhooks/${broken.id}`)) as { status: string; deliveries: Record<string, number> };
      expect(dead.status).toBe('dead');
      expect(dead.deliveries.failed).toBeGreaterThanOrEqual(2);
      expect(dead.deliveries.pending ?? 0).toBe(0);
    });
    // An attempt already in flight when the endpoint died is logged once its answer is back.
    await expectEventually(async () => {
      const brokenLog = (await get(`/v1/webhooks/${broken.id}/deliveries?limit=1000`)) as { ok: boolean }[];
      expect(brokenLog.length).toBeGreaterThanOrEqual(10);
      expect(brokenLog.every((a) => !a.ok)).toBe(true);
      expect(receiver.received.filter((r) => r.path === '/broken')).toHaveLength(brokenLog.length);
    });
    expect(receiver.received.filter((r) => r.path === '/slow').length).toBeGreaterThan(0);
    expect(((await get(`/v1/webhooks/${slow.id}`)) as { status: string }).status).toBe('active');
  });

  it('a steady burn that empties the balance in 10 h raises the forecast alert exactly once', async () => {
    const steady = await seedOrg(db, { agentMc: 10_000n }); // 10 credits, burning 1 credit/h: empty in 10 h
    const slow = await seedOrg(db, { agentMc: 10_000n }); // burning 0.1 credit/h: 100 h, beyond the 24 h horizon
    const start = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 48 * 3_600_000;
    // Ten simulated hours, one Kafka batch per simulated hour (each evaluated at its own event time).
    for (let hour = 0; hour < 10; hour++) {
      const events = [];
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) {
        const at = new Date(start + hour * 3_600_000 + (i + 1) * 360_000); // every 6 minutes
        ids.push(`steady-${hour}-${i}`, `slow-${hour}-${i}`);
        events.push(agentUsageAt(prefix, steady, 100, at, `steady-${hour}-${i}`));
        events.push(agentUsageAt(prefix, slow, 10, at, `slow-${hour}-${i}`));
      }
      await publishAll(producer, events);
      await expectEventually(async () => expect(await processed(ids)).toBe(ids.length), 30_000);
    }
    const forecasts = async (orgId: string) =>
      (await db.query(`SELECT payload FROM balance_alerts WHERE org_id = $1 AND type = 'balance.forecast'`, [
        orgId,
      ])) as {
        payload: { data: { forecastDepletionAt: string; remaining: string } };
      }[];
    const fired = await forecasts(steady);
    expect(fired).toHaveLength(1);
    // It fired once the rate estimate had a full hour: empty ~10 h after the start of the burn.
    const emptyAt = new Date(fired[0].payload.data.forecastDepletionAt).getTime();
    expect(Math.abs(emptyAt - (start + 10 * 3_600_000))).toBeLessThan(2 * 3_600_000);
    expect(await forecasts(slow)).toHaveLength(0);
    // Drained to zero, it still does not fire again.
    expect(await forecasts(steady)).toHaveLength(1);
  });
});
