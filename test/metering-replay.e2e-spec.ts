import { deadLetterTopic, Topics, topicName } from '@tally/contracts';
import { createDataSource } from '@tally/database';
import { createKafka } from '@tally/kafka';
import { BalanceCache, createRedis, type RedisClient } from '@tally/redis';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Kafka, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import {
  groupCaughtUp,
  ledgerTotals,
  nonZero,
  postedCosts,
  processedCount,
  publishAll,
  RawEvent,
  readTopic,
  seededRandom,
  seedOrgs,
  workload,
} from './metering-harness';
import { reconcile, startApp } from './apps';

/**
 * Exactly once under replay and poison. Full run (the numbers) is the default:
 * METERING_REPLAY_EVENTS=10000 events published twice, then the group reset to the earliest
 * offset; set it lower for a quicker run.
 */
const EVENTS = Number(process.env.METERING_REPLAY_EVENTS ?? 10_000);
const ORGS = 100;

describe('metering: replay and poison', () => {
  jest.setTimeout(300_000);
  let ctx: TestContext;
  let db: DataSource;
  let kafka: Kafka;
  let producer: Producer;
  let redis: RedisClient;
  let cache: BalanceCache;
  let app: NestFastifyApplication | undefined;
  let orgIds: string[];
  const boot = async () => {
    app = await startApp('metering', ctx.env({ EXPIRY_INTERVAL_MS: '0', CONSUMER_SESSION_TIMEOUT_MS: '6000' }));
  };
  const topics = () =>
    [Topics.actionVerified, Topics.usageSandbox, Topics.usageAgent].map((t) => topicName(ctx.topicPrefix, t));

  beforeAll(async () => {
    ctx = await createTestContext();
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 4 }).initialize();
    kafka = createKafka('metering-replay-test', [ctx.kafkaBrokers]);
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    redis = createRedis({ url: ctx.redisUrl });
    cache = new BalanceCache(redis, ctx.redisPrefix);
    orgIds = await seedOrgs(db, ORGS, 3_600_000_000n, 50_000_000n);
    await boot();
  });

  afterAll(async () => {
    await app?.close();
    await producer?.disconnect();
    redis?.disconnect();
    await db?.destroy();
    await ctx?.dispose();
  });

  it(`posts ${EVENTS} events published twice once, and a replay from the earliest offset changes nothing`, async () => {
    const { events, expected } = workload(ctx.topicPrefix, orgIds, EVENTS, 7);
    await publishAll(producer, events);
    await publishAll(producer, events);
    await expectEventually(async () => expect(await processedCount(db)).toBe(EVENTS), 120_000, 250);
    await expectEventually(
      async () => expect(await groupCaughtUp(kafka, `${ctx.topicPrefix}metering.ledger`, topics())).toBe(true),
      60_000,
      250,
    );
    expect(await postedCosts(db)).toEqual(nonZero(expected));
    const before = await ledgerTotals(db);
    // Every event counted once in the roll-ups; all runtime cost attributed to its sandbox.
    const rollupTotals = () =>
      db.query(`SELECT (SELECT SUM(event_count) FROM usage_rollups)::text AS n,
                       (SELECT SUM(sandbox_ms) FROM usage_rollups)::text AS ms,
                       (SELECT SUM(sandbox_ms) FROM sandbox_usage_rollups)::text AS "perSandboxMs"`);
    const rollupsBefore = await rollupTotals();
    const runtime = [...expected].reduce((sum, [key, cost]) => (key.endsWith('|sandbox') ? sum + cost : sum), 0n);
    expect(rollupsBefore).toEqual([{ n: String(EVENTS), ms: String(runtime), perSandboxMs: String(runtime) }]);

    // Stop, rewind the group to the very beginning, consume every message again.
    await app!.close();
    app = undefined;
    const admin = kafka.admin();
    await admin.connect();
    for (const topic of topics()) {
      await admin.resetOffsets({ groupId: `${ctx.topicPrefix}metering.ledger`, topic, earliest: true });
    }
    await admin.disconnect();
    expect(await groupCaughtUp(kafka, `${ctx.topicPrefix}metering.ledger`, topics())).toBe(false);
    await boot();
    await expectEventually(
      async () => expect(await groupCaughtUp(kafka, `${ctx.topicPrefix}metering.ledger`, topics())).toBe(true),
      120_000,
      250,
    );
    expect(await ledgerTotals(db)).toEqual(before);
    expect(await rollupTotals()).toEqual(rollupsBefore);
    expect(await processedCount(db)).toBe(EVENTS);
    const report = await reconcile(db, redis, cache);
    expect(report.invariant).toEqual([]);
    expect(report.drift).toEqual([]);
  });

  it('dead-letters 1% malformed events with their reasons and posts every valid one', async () => {
    const valid = Math.max(1_000, Math.floor(EVENTS / 2));
    const { events, expected } = workload(ctx.topicPrefix, orgIds, valid, 99);
    const random = seededRandom(5);
    const costsBefore = await postedCosts(db);
    const processedBefore = await processedCount(db);
    const mixed: RawEvent[] = [];
    const poison = new Map<string, number>();
    const malformed = (event: RawEvent, i: number): RawEvent => {
      const value = JSON.parse(JSON.stringify(event.value));
      switch (i % 5) {
        case 0:
          return { ...event, value: JSON.stringify(value).slice(0, 40) };
        case 1:
          return { ...event, value: { ...value, specversion: '9.0' } };
        case 2:
          return { ...event, value: { ...value, dataschema: 'https://schemas.tally.dev/x/v3' } };
        case 3:
          return { ...event, value: { ...value, data: { ...value.data, orgId: 'nope' } } };
        default:
          return {
            ...event,
            value: {
              ...value,
              subject: 'ORG-01JZZZZZZZZZZZZZZZZZZZZZZZ',
              data: { ...value.data, orgId: 'ORG-01JZZZZZZZZZZZZZZZZZZZZZZZ' },
            },
          };
      }
    };
    let k = 0;
    for (const event of events) {
      mixed.push(event);
      if (random() < 0.01) {
        const bad = malformed(event, k++);
        mixed.push(bad);
        poison.set(bad.topic, (poison.get(bad.topic) ?? 0) + 1);
      }
    }
    expect(k).toBeGreaterThan(0);
    await publishAll(producer, mixed);
    await expectEventually(async () => expect(await processedCount(db)).toBe(processedBefore + valid), 120_000, 250);
    const merged = new Map(costsBefore);
    for (const [key, value] of expected) merged.set(key, (merged.get(key) ?? 0n) + value);
    expect(await postedCosts(db)).toEqual(nonZero(merged));
    for (const [topic, count] of poison) {
      const dead = await readTopic(kafka, deadLetterTopic(topic), count);
      expect(dead).toHaveLength(count);
      for (const message of dead) {
        expect(message.headers!['x-dlq-reason']!.toString()).not.toBe('');
        expect(['unparseable', 'version', 'schema', 'unknown-organization']).toContain(
          message.headers!['x-dlq-class']!.toString(),
        );
        expect(message.headers!['x-dlq-topic']!.toString()).toBe(topic);
      }
    }
  });
});
