import { DEFAULT_KEY_PREFIX, deadLetterTopic, Topics, topicName } from '@tally/contracts';
import { createDataSource, DemoOrganization, seedDemoOrganization } from '@tally/database';
import { createKafka } from '@tally/kafka';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Kafka, KafkaMessage } from 'kafkajs';
import { DataSource } from 'typeorm';
import { appUrl, startApp } from './apps';

/**
 * The walking skeleton, every hop real: verify on auth publishes `auth.action.verified.v1` to
 * Kafka; metering consumes it, posts the ledger in PostgreSQL and refreshes Redis; quota reads
 * the balance from Redis.
 */
describe('walking skeleton: verify → Kafka → ledger → Redis → quota', () => {
  jest.setTimeout(90_000);
  let ctx: TestContext;
  let apps: NestFastifyApplication[];
  let db: DataSource;
  let kafka: Kafka;
  let demo: DemoOrganization;
  let authUrl: string;
  let quotaUrl: string;
  const service = { 'content-type': 'application/json', 'x-service-token': 'test-service-token' };

  beforeAll(async () => {
    ctx = await createTestContext();
    const env = ctx.env();
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    demo = await seedDemoOrganization(db, { keyPrefix: DEFAULT_KEY_PREFIX, pepper: env.API_KEY_PEPPER });
    kafka = createKafka('skeleton-test', [ctx.kafkaBrokers]);
    apps = [
      await startApp('auth', { ...env, TALLY_ENV: 'development', QUOTA_DISABLED: 'true' }),
      await startApp('metering', env),
      await startApp('quota', env),
    ];
    authUrl = appUrl(apps[0]);
    quotaUrl = appUrl(apps[2]);
  });

  afterAll(async () => {
    for (const app of apps ?? []) await app.close();
    await db?.destroy();
    await ctx?.dispose();
  });

  const verify = (body: unknown) =>
    fetch(`${authUrl}/v1/verify`, { method: 'POST', headers: service, body: JSON.stringify(body) });
  const balance = async (): Promise<unknown> =>
    (await fetch(`${quotaUrl}/v1/orgs/${demo.orgId}/balances`, { headers: service })).json();
  const ledgerRows = async (eventId: string) =>
    db.query(`SELECT kind, entry_type, amount FROM ledger_entries WHERE event_id = $1`, [eventId]);

  /** Reads every message of a topic from the beginning with a throwaway consumer group. */
  async function readTopic(topic: string, count: number): Promise<KafkaMessage[]> {
    const consumer = kafka.consumer({ groupId: `${ctx.topicPrefix}reader-${Date.now()}` });
    const seen: KafkaMessage[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
    try {
      await expectEventually(() => expect(seen.length).toBeGreaterThanOrEqual(count), 20_000);
    } finally {
      await consumer.disconnect();
    }
    return seen;
  }

  it('answers readiness with every dependency up', async () => {
    for (const app of apps) {
      const response = await fetch(`${appUrl(app)}/health/ready`);
      expect(response.status).toBe(200);
    }
  });

  it('debits one agent credit per agent.run, and quota sees it through Redis', async () => {
    expect(await balance()).toMatchObject({ agentCredits: '100', sandboxHours: '10' });

    const response = await verify({ key: demo.apiKey, action: 'agent.run', orgId: demo.orgId });
    expect(response.status).toBe(200);
    const allowed = (await response.json()) as { eventId: string };
    expect(allowed).toMatchObject({ allowed: true, orgId: demo.orgId, keyId: demo.keyId });

    await expectEventually(async () =>
      expect(await ledgerRows(allowed.eventId)).toEqual([{ kind: 'agent', entry_type: 'debit', amount: '-1000' }]),
    );
    await expectEventually(async () => expect(await balance()).toMatchObject({ agentCredits: '99', source: 'cache' }));
  });

  it('publishes a CloudEvent keyed by the organization id', async () => {
    const messages = await readTopic(topicName(ctx.topicPrefix, Topics.actionVerified), 1);
    const event = JSON.parse(messages[0].value!.toString());
    expect(messages[0].key!.toString()).toBe(demo.orgId);
    expect(event).toMatchObject({
      specversion: '1.0',
      type: 'action.verified',
      subject: demo.orgId,
      source: '//tally/auth',
    });
  });

  it('leaves one ledger row when the same verified event is delivered twice more', async () => {
    const topic = topicName(ctx.topicPrefix, Topics.actionVerified);
    const [original] = await readTopic(topic, 1);
    const eventId = JSON.parse(original.value!.toString()).id;
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [original, original].map((m) => ({ key: m.key, value: m.value })) });
    // A marker behind the duplicates: once it is posted, the duplicates have been consumed too.
    const marker = (await (await verify({ key: demo.apiKey, action: 'agent.run', orgId: demo.orgId })).json()) as {
      eventId: string;
    };
    await producer.disconnect();

    await expectEventually(async () => expect(await ledgerRows(marker.eventId)).toHaveLength(1));
    expect(await ledgerRows(eventId)).toHaveLength(1);
    await expectEventually(async () => expect(await balance()).toMatchObject({ agentCredits: '98' }));
  });

  it('sends an unparseable event to the dead-letter topic with its reason, and moves on', async () => {
    const topic = topicName(ctx.topicPrefix, Topics.actionVerified);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: demo.orgId, value: 'not json' }] });
    await producer.disconnect();
    const marker = (await (await verify({ key: demo.apiKey, action: 'agent.run', orgId: demo.orgId })).json()) as {
      eventId: string;
    };
    await expectEventually(async () => expect(await ledgerRows(marker.eventId)).toHaveLength(1));

    const [dead] = await readTopic(deadLetterTopic(topic), 1);
    expect(dead.value!.toString()).toBe('not json');
    expect(dead.headers!['x-dlq-reason']!.toString()).toBe('value is not JSON');
  });

  it('denies an API key an administrative action and another organization', async () => {
    const admin = await verify({ key: demo.apiKey, action: 'api_key.create', orgId: demo.orgId });
    expect(admin.status).toBe(403);
    expect(await admin.json()).toMatchObject({ code: 'ACTION_NOT_ALLOWED_FOR_API_KEY' });
    const foreign = await verify({ key: demo.apiKey, action: 'sandbox.list', orgId: 'ORG-01JZZZZZZZZZZZZZZZZZZZZZZZ' });
    expect(foreign.status).toBe(404);
    expect(await foreign.json()).toMatchObject({ code: 'NOT_FOUND', requestId: expect.any(String) });
  });
});
