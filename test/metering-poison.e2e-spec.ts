import { deadLetterTopic, Topics, topicName } from '@tally/contracts';
import { createDataSource } from '@tally/database';
import { createKafka } from '@tally/kafka';
import { BalanceCache, createRedis, type RedisClient } from '@tally/redis';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Kafka, KafkaMessage, Producer } from 'kafkajs';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { agentUsage, publishAll, RawEvent, sandboxUsage, seedOrg, SERVICE_HEADERS, verified } from './metering-harness';
import { appUrl, startApp } from './apps';

/**
 * Issue 10, "one event can stop metering for every organization" and its neighbours, on real
 * Kafka, PostgreSQL and Redis: every poison input is dead-lettered with its reason and, within
 * 5 s of it, another organization's event is on its balance; transient failures keep retrying;
 * the key, the subject and data.orgId must agree; a runtime report re-sent under a new id is not
 * charged twice; a create names its sandbox; grants have ceilings.
 */
describe('metering: no single event stops billing', () => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let db: DataSource;
  let kafka: Kafka;
  let producer: Producer;
  let redis: RedisClient;
  let cache: BalanceCache;
  let prefix: string;
  let url: string;
  const dead = new Map<string, KafkaMessage[]>();
  let dlqReader: ReturnType<Kafka['consumer']>;

  beforeAll(async () => {
    ctx = await createTestContext();
    prefix = ctx.topicPrefix;
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    app = await startApp('metering', ctx.env({ EXPIRY_INTERVAL_MS: '0', CONSUMER_MAX_BACKOFF_MS: '500' }));
    url = appUrl(app);
    kafka = createKafka('metering-poison-test', [ctx.kafkaBrokers]);
    producer = kafka.producer();
    await producer.connect();
    redis = createRedis({ url: ctx.redisUrl });
    cache = new BalanceCache(redis, ctx.redisPrefix);
    // Every dead letter of the run, by topic, read as they come.
    const topics = [Topics.actionVerified, Topics.usageSandbox, Topics.usageAgent].map((t) =>
      deadLetterTopic(topicName(prefix, t)),
    );
    dlqReader = kafka.consumer({ groupId: `dlq-reader-${ulid()}`, maxWaitTimeInMs: 100 });
    await dlqReader.connect();
    await dlqReader.subscribe({ topics, fromBeginning: true });
    await dlqReader.run({
      eachMessage: async ({ topic, message }) => void dead.set(topic, [...(dead.get(topic) ?? []), message]),
    });
    // The consumer has joined its group and posts: the 5 s windows below measure posting only.
    await healthyEventPosted(60_000);
  });

  afterAll(async () => {
    await dlqReader?.disconnect();
    await producer?.disconnect();
    await app?.close();
    redis?.disconnect();
    await db?.destroy();
    await ctx?.dispose();
  });

  /** Another organization's agent usage, published now: on its Redis balance within `withinMs`. */
  async function healthyEventPosted(withinMs = 5_000): Promise<void> {
    const orgId = await seedOrg(db, { sandboxMs: 0n, agentMc: 1_000_000n });
    await publishAll(producer, [agentUsage(prefix, orgId, 7)]);
    await expectEventually(async () => expect((await cache.get(orgId))?.agentMc).toBe(999_993n), withinMs);
  }

  const eventId = (event: RawEvent) => (event.value as { id: string }).id;
  const processed = async (id: string) =>
    (await db.query('SELECT 1 FROM processed_events WHERE id = $1', [id])).length === 1;

  /** The dead letter of `event` (found by its CloudEvents id), once it is there. */
  async function deadLetterOf(event: RawEvent): Promise<KafkaMessage> {
    const value = typeof event.value === 'string' ? event.value : JSON.stringify(event.value);
    return expectEventually(() => {
      const found = (dead.get(deadLetterTopic(event.topic)) ?? []).find((m) => m.value?.toString() === value);
      expect(found).toBeDefined();
      return found!;
    }, 20_000);
  }
  const reasonOf = (message: KafkaMessage) => message.headers!['x-dlq-reason']!.toString();

  /** Publishes the poison; another org's event is posted within 5 s; the poison is dead-lettered. */
  async function isolated(poison: RawEvent, reason: RegExp): Promise<void> {
    await publishAll(producer, [poison]);
    await healthyEventPosted();
    expect(reasonOf(await deadLetterOf(poison))).toMatch(reason);
    expect(await processed(eventId(poison))).toBe(false);
  }

  const withData = (event: RawEvent, data: Record<string, unknown>): RawEvent => {
    const value = event.value as { data: Record<string, unknown> };
    return { ...event, value: { ...value, data: { ...value.data, ...data } } };
  };

  describe('poison isolation (item 4): each case dead-lettered, another org on its balance within 5 s', () => {
    let orgId: string;
    beforeAll(async () => {
      orgId = await seedOrg(db, { sandboxMs: 36_000_000n, agentMc: 1_000_000n });
    });

    it('a NUL character in params.shape', async () => {
      await isolated(
        verified(prefix, orgId, 'sandbox.list', { params: { shape: 'sm\u0000all' } }),
        /control character/,
      );
    });

    it('a NUL character in resource.id', async () => {
      const poison = verified(prefix, orgId, 'sandbox.delete', { resource: { type: 'sandbox', id: 'sbx-\u0000' } });
      await isolated(poison, /control character/);
    });

    it("a NUL character in a runtime report's sandbox id", async () => {
      await isolated(sandboxUsage(prefix, orgId, 'sbx-\u0000-1', 'sandbox.heartbeat', 1_000, 1), /control character/);
    });

    it('a shape of several KB (beyond the roll-up key)', async () => {
      const shape = randomBytes(3_000).toString('hex');
      await isolated(verified(prefix, orgId, 'sandbox.list', { params: { shape } }), /shape/);
    });

    it('a sequence above 2^31-1', async () => {
      await isolated(sandboxUsage(prefix, orgId, `sbx-${ulid()}`, 'sandbox.heartbeat', 1_000, 2 ** 31), /sequence/);
    });

    it('a runtimeMs whose cost overflows int8', async () => {
      const poison = withData(sandboxUsage(prefix, orgId, `sbx-${ulid()}`, 'sandbox.heartbeat', 0, 1, 'gpu'), {
        runtimeMs: '999999999999999999',
      });
      await isolated(poison, /runtimeMs/);
    });

    it('an event time outside the window around the broker timestamp', async () => {
      const old = agentUsage(prefix, orgId, 5);
      const value = old.value as Record<string, unknown>;
      await isolated({ ...old, value: { ...value, time: '2019-01-01T00:00:00.000Z' } }, /time/);
      const future = agentUsage(prefix, orgId, 5);
      const ahead = new Date(Date.now() + 86_400_000).toISOString();
      await isolated({ ...future, value: { ...(future.value as object), time: ahead } }, /time/);
    });

    it('a deterministic PostgreSQL failure past the decoder is split down to its event; its neighbours post', async () => {
      const bad = agentUsage(prefix, orgId, 11);
      // Stands for any data error the decoder cannot foresee: SQLSTATE 22023 for this one event.
      await db.query(`CREATE OR REPLACE FUNCTION poison_test_reject() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.event_id = '${eventId(bad)}' THEN RAISE EXCEPTION 'poison for the test' USING ERRCODE = '22023'; END IF;
        RETURN NEW; END $$`);
      await db.query(`CREATE TRIGGER poison_test_reject BEFORE INSERT ON ledger_entries
                        FOR EACH ROW EXECUTE FUNCTION poison_test_reject()`);
      try {
        const before = agentUsage(prefix, orgId, 3);
        const after = agentUsage(prefix, orgId, 4);
        await publishAll(producer, [before, bad, after]);
        await healthyEventPosted();
        await expectEventually(async () => {
          expect(await processed(eventId(before))).toBe(true);
          expect(await processed(eventId(after))).toBe(true);
        });
        expect(reasonOf(await deadLetterOf(bad))).toMatch(/22023/);
        expect(await processed(eventId(bad))).toBe(false);
      } finally {
        await db.query('DROP TRIGGER IF EXISTS poison_test_reject ON ledger_entries');
      }
    });

    it('a transient failure (deadlock) keeps retrying and is posted once it clears, never dead-lettered', async () => {
      const event = agentUsage(prefix, orgId, 13);
      await db.query(`CREATE OR REPLACE FUNCTION transient_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.event_id = '${eventId(event)}' THEN RAISE EXCEPTION 'stand-in deadlock' USING ERRCODE = '40P01'; END IF;
        RETURN NEW; END $$`);
      await db.query(`CREATE TRIGGER transient_test_fail BEFORE INSERT ON ledger_entries
                        FOR EACH ROW EXECUTE FUNCTION transient_test_fail()`);
      try {
        await publishAll(producer, [event]);
        await new Promise((resolve) => setTimeout(resolve, 2_000)); // several retries while it fails
        expect(await processed(eventId(event))).toBe(false);
      } finally {
        await db.query('DROP TRIGGER IF EXISTS transient_test_fail ON ledger_entries');
      }
      await expectEventually(async () => expect(await processed(eventId(event))).toBe(true));
      const value = JSON.stringify(event.value);
      expect((dead.get(deadLetterTopic(event.topic)) ?? []).some((m) => m.value?.toString() === value)).toBe(false);
    });
  });

  it('item 11: a message whose Kafka key names another org than its subject is dead-lettered, never counted', async () => {
    const orgId = await seedOrg(db, { sandboxMs: 0n, agentMc: 1_000_000n });
    const other = await seedOrg(db, { sandboxMs: 0n, agentMc: 1_000_000n });
    const event = { ...agentUsage(prefix, orgId, 500), key: other };
    await isolated(event, /key/);
    const debits = await db.query(`SELECT 1 FROM ledger_entries WHERE org_id = ANY($1) AND entry_type <> 'grant'`, [
      [orgId, other],
    ]);
    expect(debits).toEqual([]);
  });

  it('item 9: a runtime report re-sent with a new CloudEvents id is charged once', async () => {
    const orgId = await seedOrg(db, { sandboxMs: 36_000_000n, agentMc: 0n });
    const sandbox = { type: 'sandbox', id: `sbx-${ulid()}` };
    const first = sandboxUsage(prefix, orgId, sandbox.id, 'sandbox.heartbeat', 60_000, 1);
    const resent = sandboxUsage(prefix, orgId, sandbox.id, 'sandbox.heartbeat', 60_000, 1);
    const next = sandboxUsage(prefix, orgId, sandbox.id, 'sandbox.heartbeat', 30_000, 2);
    await publishAll(producer, [
      verified(prefix, orgId, 'sandbox.create', { params: { shape: 'small', maxLifeSeconds: 600 }, resource: sandbox }),
      first,
    ]);
    await expectEventually(async () => expect(await processed(eventId(first))).toBe(true));
    await publishAll(producer, [resent, next]);
    await expectEventually(async () => expect(await processed(eventId(next))).toBe(true));
    const [hold] = await db.query('SELECT captured_ms FROM holds WHERE org_id = $1', [orgId]);
    expect(hold).toEqual({ captured_ms: '90000' });
    const [debited] = await db.query(
      `SELECT (-SUM(amount))::text AS ms FROM ledger_entries WHERE org_id = $1 AND entry_type <> 'grant'`,
      [orgId],
    );
    expect(debited).toEqual({ ms: '90000' });
  });

  it('item 10: a sandbox.create that does not name its sandbox is dead-lettered, never held under its admission id', async () => {
    const orgId = await seedOrg(db, { sandboxMs: 36_000_000n, agentMc: 0n });
    const create = verified(prefix, orgId, 'sandbox.create', {
      params: { shape: 'small', maxLifeSeconds: 600 },
      admissionId: `adm-${ulid()}`,
    });
    await isolated(create, /resource\.id/);
    expect(await db.query('SELECT 1 FROM holds WHERE org_id = $1', [orgId])).toEqual([]);
  });

  it('item 12: a grant beyond the documented ceiling answers 400 naming the field', async () => {
    const orgId = await seedOrg(db);
    const grant = (body: Record<string, unknown>) =>
      fetch(`${url}/v1/orgs/${orgId}/packages`, {
        method: 'POST',
        headers: SERVICE_HEADERS,
        body: JSON.stringify({ source: 'billing', externalId: ulid(), sandboxHours: '1', agentCredits: '1', ...body }),
      });
    for (const [field, value] of [
      ['sandboxHours', '999999999999999'],
      ['agentCredits', '999999999999999'],
    ]) {
      const response = await grant({ [field]: value });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'INVALID_REQUEST', field, requestId: expect.any(String) });
    }
    expect((await grant({ sandboxHours: '1000000', agentCredits: '1000000000' })).status).toBe(201);
  });
});
