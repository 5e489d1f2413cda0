import { deadLetterTopic, Topics, topicName } from '@tally/contracts';
import { createDataSource } from '@tally/database';
import { createKafka } from '@tally/kafka';
import { BalanceCache, createRedis, type RedisClient } from '@tally/redis';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Kafka, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import {
  agentUsage,
  processedCount,
  publishAll,
  readTopic,
  sandboxUsage,
  seedOrg,
  SERVICE_HEADERS,
  verified,
} from './metering-harness';
import { appUrl, ExpiryService, reconcile, startApp } from './apps';

/**
 * Metering end to end on real Kafka, PostgreSQL and Redis: packages over HTTP, two-phase holds,
 * usage debits, overage and its alert, dead-lettering of every bad-event class, roll-ups,
 * expiry forfeits, the outbox relay, and reconcile.
 */
describe('metering: packages, holds and the ledger', () => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let db: DataSource;
  let kafka: Kafka;
  let producer: Producer;
  let redis: RedisClient;
  let cache: BalanceCache;
  let url: string;
  let prefix: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    prefix = ctx.topicPrefix;
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    app = await startApp('metering', ctx.env({ EXPIRY_INTERVAL_MS: '0' }));
    url = appUrl(app);
    kafka = createKafka('metering-ledger-test', [ctx.kafkaBrokers]);
    producer = kafka.producer();
    await producer.connect();
    redis = createRedis({ url: ctx.redisUrl });
    cache = new BalanceCache(redis, ctx.redisPrefix);
  });

  afterAll(async () => {
    await producer?.disconnect();
    await app?.close();
    redis?.disconnect();
    await db?.destroy();
    await ctx?.dispose();
  });

  const grant = (orgId: string, body: Record<string, unknown>, headers: Record<string, string> = SERVICE_HEADERS) =>
    fetch(`${url}/v1/orgs/${orgId}/packages`, { method: 'POST', headers, body: JSON.stringify(body) });
  const processed = async (eventId: string) =>
    (await db.query('SELECT 1 FROM processed_events WHERE id = $1', [eventId])).length === 1;

  describe('packages API', () => {
    it('grants once per externalId and lists remaining balances', async () => {
      const orgId = await seedOrg(db);
      const body = { sandboxHours: '1.5', agentCredits: '10.25', priority: 2, source: 'billing', externalId: 'inv-1' };
      const first = await grant(orgId, body);
      expect(first.status).toBe(201);
      const created = (await first.json()) as { id: string };
      expect(created).toMatchObject({ sandboxHours: '1.5', agentCreditsRemaining: '10.25', created: true });
      const again = await grant(orgId, body);
      expect(again.status).toBe(200);
      expect(await again.json()).toMatchObject({ id: created.id, created: false });

      const list = (await (
        await fetch(`${url}/v1/orgs/${orgId}/packages`, { headers: SERVICE_HEADERS })
      ).json()) as unknown[];
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({
        sandboxMsRemaining: '5400000',
        agentMilliCreditsRemaining: '10250',
        active: true,
      });
      const grants = await db.query(`SELECT kind, amount FROM ledger_entries WHERE org_id = $1 ORDER BY kind`, [orgId]);
      expect(grants).toEqual([
        { kind: 'agent', amount: '10250' },
        { kind: 'sandbox', amount: '5400000' },
      ]);
      await expectEventually(async () => expect((await cache.get(orgId))?.agentMc).toBe(10_250n));
    });

    it('answers 401, 400 and 404 with the shared error body', async () => {
      const orgId = await seedOrg(db);
      const body = { sandboxHours: '1', agentCredits: '1', source: 'billing', externalId: 'x' };
      const noToken = await grant(orgId, body, { 'content-type': 'application/json' });
      expect(noToken.status).toBe(401);
      expect(await noToken.json()).toMatchObject({ code: 'MISSING_CREDENTIALS', requestId: expect.any(String) });
      const bad = await grant(orgId, { ...body, agentCredits: '0.0001' });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ code: 'INVALID_REQUEST', field: 'agentCredits' });
      const unknown = await grant(`ORG-${ulid()}`, body);
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toMatchObject({ code: 'NOT_FOUND' });
    });
  });

  it('places, grows, captures and releases a hold; Redis carries held ms and running sandboxes', async () => {
    const orgId = await seedOrg(db, { sandboxMs: 36_000_000n, agentMc: 0n });
    const admissionId = `adm-${ulid()}`;
    // quota's provisional hold, which the durable hold settles
    await redis.hset(cache.keys(orgId).provisional, admissionId, '7200000');
    const sandbox = { type: 'sandbox', id: `sbx-${ulid()}` };
    await publishAll(producer, [
      verified(prefix, orgId, 'sandbox.create', {
        params: { shape: 'medium', maxLifeSeconds: 3600 },
        resource: sandbox,
        admissionId,
      }),
    ]);
    await expectEventually(async () =>
      expect(await cache.get(orgId)).toMatchObject({ heldMs: 7_200_000n, runningSandboxes: 1, sandboxMs: 36_000_000n }),
    );
    expect(await redis.hget(cache.keys(orgId).provisional, admissionId)).toBeNull();

    await publishAll(producer, [sandboxUsage(prefix, orgId, sandbox.id, 'sandbox.heartbeat', 600_000, 1, 'medium')]);
    await expectEventually(async () =>
      expect(await cache.get(orgId)).toMatchObject({ heldMs: 6_000_000n, sandboxMs: 34_800_000n }),
    );
    await publishAll(producer, [
      verified(prefix, orgId, 'sandbox.extend', { params: { extendSeconds: 1800 }, resource: sandbox }),
    ]);
    await expectEventually(async () => expect(await cache.get(orgId)).toMatchObject({ heldMs: 9_600_000n }));
    await publishAll(producer, [sandboxUsage(prefix, orgId, sandbox.id, 'sandbox.stopped', 60_001, 2, 'medium')]);
    await expectEventually(async () =>
      expect(await cache.get(orgId)).toMatchObject({ heldMs: 0n, runningSandboxes: 0, sandboxMs: 34_679_998n }),
    );
    const [hold] = await db.query('SELECT status, reserved_ms, captured_ms, overrun_ms FROM holds WHERE org_id = $1', [
      orgId,
    ]);
    expect(hold).toEqual({ status: 'released', reserved_ms: '10800000', captured_ms: '1320002', overrun_ms: '0' });
  });

  it('prices a runtime report at its own shape when a (shapeless) delete reached metering first', async () => {
    const orgId = await seedOrg(db, { sandboxMs: 36_000_000n, agentMc: 0n });
    const sandbox = { type: 'sandbox', id: `sbx-${ulid()}` };
    await publishAll(producer, [verified(prefix, orgId, 'sandbox.delete', { resource: sandbox })]);
    await expectEventually(async () => expect(await processedCount(db)).toBeGreaterThan(0));
    await expectEventually(async () =>
      expect((await db.query('SELECT 1 FROM holds WHERE org_id = $1', [orgId])).length).toBe(1),
    );
    await publishAll(producer, [sandboxUsage(prefix, orgId, sandbox.id, 'sandbox.heartbeat', 23_137, 1, 'medium')]);
    await expectEventually(async () =>
      expect(await cache.get(orgId)).toMatchObject({ sandboxMs: 36_000_000n - 46_274n }),
    );
  });

  it('debits runtime beyond the hold and flags it', async () => {
    const orgId = await seedOrg(db, { sandboxMs: 36_000_000n, agentMc: 0n });
    const sandbox = { type: 'sandbox', id: `sbx-${ulid()}` };
    await publishAll(producer, [
      verified(prefix, orgId, 'sandbox.create', { params: { shape: 'small', maxLifeSeconds: 60 }, resource: sandbox }),
      sandboxUsage(prefix, orgId, sandbox.id, 'sandbox.heartbeat', 90_000, 1),
    ]);
    await expectEventually(async () => {
      const [hold] = await db.query('SELECT captured_ms, overrun_ms FROM holds WHERE org_id = $1', [orgId]);
      expect(hold).toEqual({ captured_ms: '90000', overrun_ms: '30000' });
    });
    // The sandbox's own roll-up: its create and its report, and the runtime captured.
    const perSandbox = await db.query(
      'SELECT sandbox_id, event_count, sandbox_ms FROM sandbox_usage_rollups WHERE org_id = $1',
      [orgId],
    );
    expect(perSandbox).toEqual([{ sandbox_id: sandbox.id, event_count: '2', sandbox_ms: '90000' }]);
    await expectEventually(async () =>
      expect(await cache.get(orgId)).toMatchObject({ sandboxMs: 35_910_000n, heldMs: 0n }),
    );
  });

  it('debits agent credits for agent.run and agent usage; a shortfall becomes overage and balance.depleted', async () => {
    const orgId = await seedOrg(db, { sandboxMs: 0n, agentMc: 2_000n });
    const usage = agentUsage(prefix, orgId, 2_500, 'inference');
    // Two topics are not ordered with each other: the run is posted before the usage is sent.
    const run = verified(prefix, orgId, 'agent.run');
    await publishAll(producer, [run]);
    await expectEventually(async () => expect(await processed((run.value as { id: string }).id)).toBe(true));
    await publishAll(producer, [usage]);
    const usageId = (usage.value as { id: string }).id;
    await expectEventually(async () => expect(await processed(usageId)).toBe(true));
    const rows = await db.query(
      `SELECT entry_type, amount, action FROM ledger_entries WHERE org_id = $1 AND entry_type <> 'grant' ORDER BY seq`,
      [orgId],
    );
    expect(rows).toEqual([
      { entry_type: 'debit', amount: '-1000', action: 'agent.run' },
      { entry_type: 'debit', amount: '-1000', action: 'agent.inference' },
      { entry_type: 'overage', amount: '-1500', action: 'agent.inference' },
    ]);
    await expectEventually(async () => expect(await cache.get(orgId)).toMatchObject({ agentMc: 0n }));
    // The 50% threshold alert (the run) shares the topic; the usage empties it: one depletion, no
    // alert per overage report (80 and 95 are passed, not raised).
    const alerts = await readTopic(kafka, topicName(prefix, Topics.alerts), 2);
    const depleted = alerts
      .map((m) => JSON.parse(m.value!.toString()))
      .find((e) => e.subject === orgId && e.type === 'balance.depleted');
    expect(depleted).toMatchObject({
      type: 'balance.depleted',
      data: { orgId, kind: 'agent', remaining: '0', threshold: '100' },
    });
    const rollups = await db.query(
      `SELECT action, kind, event_count, agent_mc FROM usage_rollups WHERE org_id = $1 ORDER BY action`,
      [orgId],
    );
    expect(rollups).toEqual([
      { action: 'agent.consumed', kind: 'inference', event_count: '1', agent_mc: '2500' },
      { action: 'agent.run', kind: 'action', event_count: '1', agent_mc: '1000' },
    ]);
  });

  it('relays every ledger entry to metering.ledger.v1 through the outbox', async () => {
    const orgId = await seedOrg(db, { sandboxMs: 0n, agentMc: 10_000n });
    await publishAll(producer, [verified(prefix, orgId, 'agent.run'), verified(prefix, orgId, 'agent.run')]);
    await expectEventually(async () => {
      const [row] = await db.query(`SELECT COUNT(*)::int AS n FROM outbox`);
      const [debits] = await db.query(
        `SELECT COUNT(*)::int AS n FROM ledger_entries WHERE org_id = $1 AND entry_type = 'debit'`,
        [orgId],
      );
      expect({ outbox: row.n, debits: debits.n }).toEqual({ outbox: 0, debits: 2 });
    });
    // Every entry but the seeds' grants (written without the API) went through the outbox.
    const [{ n }] = await db.query(`SELECT COUNT(*)::int AS n FROM ledger_entries WHERE event_source <> 'grant:test'`);
    const posted = (await readTopic(kafka, topicName(prefix, Topics.ledgerPosted), n))
      .map((m) => JSON.parse(m.value!.toString()))
      .filter((e) => e.subject === orgId && e.data.entryType === 'debit');
    expect(posted).toHaveLength(2);
    expect(posted[0]).toMatchObject({ type: 'ledger.posted', data: { amount: '-1000', kind: 'agent' } });
  });

  it('dead-letters every class of bad event with its reason, and moves on', async () => {
    const orgId = await seedOrg(db, { sandboxMs: 0n, agentMc: 10_000n });
    const agentTopic = topicName(prefix, Topics.usageAgent);
    const good = agentUsage(prefix, orgId, 10);
    const wrongVersion = agentUsage(prefix, orgId, 10);
    (wrongVersion.value as Record<string, unknown>).dataschema = 'https://schemas.tally.dev/usage.agent/v2';
    const wrongSpec = agentUsage(prefix, orgId, 10);
    (wrongSpec.value as Record<string, unknown>).specversion = '2.0';
    const wrongSchema = agentUsage(prefix, orgId, 10);
    (wrongSchema.value as { data: Record<string, unknown> }).data.credits = -5;
    const unknownOrg = agentUsage(prefix, `ORG-${ulid()}`, 10);
    await publishAll(producer, [
      { topic: agentTopic, key: orgId, value: '{"truncated":' },
      wrongVersion,
      wrongSpec,
      wrongSchema,
      unknownOrg,
      good,
    ]);
    await expectEventually(async () => expect(await processed((good.value as { id: string }).id)).toBe(true));
    const dead = await readTopic(kafka, deadLetterTopic(agentTopic), 5);
    const classes = dead.map((m) => m.headers!['x-dlq-class']!.toString()).sort();
    expect(classes).toEqual(['schema', 'unknown-organization', 'unparseable', 'version', 'version']);
    for (const message of dead) {
      expect(message.headers!['x-dlq-reason']!.toString().length).toBeGreaterThan(0);
      expect(message.headers!['x-dlq-topic']!.toString()).toBe(agentTopic);
      expect(message.headers!['x-dlq-offset']).toBeDefined();
    }
  });

  it('forfeits an expired package as a ledger entry and releases expired holds; reconcile finds no drift', async () => {
    const notAfter = new Date(Date.now() + 60_000);
    const orgId = await seedOrg(db, { sandboxMs: 3_600_000n, agentMc: 5_000n, notAfter });
    const sandboxId = `sbx-${ulid()}`;
    await publishAll(producer, [
      verified(prefix, orgId, 'agent.run'),
      verified(prefix, orgId, 'sandbox.create', {
        params: { shape: 'small', maxLifeSeconds: 60 },
        resource: { type: 'sandbox', id: sandboxId },
      }),
    ]);
    await expectEventually(async () =>
      expect(await cache.get(orgId)).toMatchObject({ agentMc: 4_000n, heldMs: 60_000n }),
    );

    const expiry = app.get(ExpiryService);
    const later = new Date(Date.now() + 3_600_000);
    const result = await expiry.runOnce(later);
    expect(result.forfeits).toBeGreaterThanOrEqual(2);
    const forfeits = await db.query(
      `SELECT kind, amount FROM ledger_entries WHERE org_id = $1 AND entry_type = 'forfeit' ORDER BY kind`,
      [orgId],
    );
    expect(forfeits).toEqual([
      { kind: 'agent', amount: '-4000' },
      { kind: 'sandbox', amount: '-3600000' },
    ]);
    expect((await db.query('SELECT status FROM holds WHERE org_id = $1', [orgId]))[0].status).toBe('expired');
    // A second round (or another instance) finds nothing left to forfeit.
    await expiry.runOnce(later);
    expect(
      await db.query(`SELECT COUNT(*)::int AS n FROM ledger_entries WHERE org_id = $1 AND entry_type = 'forfeit'`, [
        orgId,
      ]),
    ).toEqual([{ n: 2 }]);
    expect(await cache.get(orgId)).toMatchObject({ heldMs: 0n, runningSandboxes: 0 });

    const report = await reconcile(db, redis, cache, { orgId, now: later });
    expect(report.invariant).toEqual([]);
    expect(report.drift).toEqual([]);
    expect(await processedCount(db)).toBeGreaterThan(0);
  });

  it('forfeits each expired remainder exactly once when several expiry runs overlap (as several instances would)', async () => {
    const notAfter = new Date(Date.now() + 60_000);
    const orgIds = await Promise.all(
      Array.from({ length: 5 }, () => seedOrg(db, { sandboxMs: 1_000n, agentMc: 2_000n, notAfter })),
    );
    const expiry = app.get(ExpiryService);
    const later = new Date(Date.now() + 7_200_000);
    await Promise.all([expiry.runOnce(later), expiry.runOnce(later), expiry.runOnce(later)]);
    await expiry.runOnce(later); // whatever a run skipped (SKIP LOCKED) is taken by the next one
    const rows = await db.query(
      `SELECT COUNT(*)::int AS n, SUM(amount)::text AS total FROM ledger_entries
        WHERE org_id = ANY($1::varchar[]) AND entry_type = 'forfeit'`,
      [orgIds],
    );
    expect(rows).toEqual([{ n: 10, total: String(-5 * 3_000) }]);
    for (const orgId of orgIds) {
      const report = await reconcile(db, redis, cache, { orgId, now: later });
      expect(report.invariant).toEqual([]);
    }
  });
});
