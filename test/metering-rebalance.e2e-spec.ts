import { createDataSource } from '@tally/database';
import { createKafka } from '@tally/kafka';
import { BalanceCache, createRedis, type RedisClient } from '@tally/redis';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Kafka, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { nonZero, postedCosts, processedCount, publishAll, seedOrgs, workload } from './metering-harness';
import { reconcile, startApp } from './apps';

/**
 * Two metering instances in one consumer group: the second joins mid-run (a forced rebalance),
 * then the first leaves mid-run (another); the totals are exact and nothing is double-counted.
 */
const EVENTS = Number(process.env.METERING_REBALANCE_EVENTS ?? 9_000);

describe('metering: two instances and rebalances', () => {
  jest.setTimeout(300_000);
  let ctx: TestContext;
  let db: DataSource;
  let kafka: Kafka;
  let producer: Producer;
  let redis: RedisClient;
  const apps: NestFastifyApplication[] = [];
  const boot = async () => {
    const app = await startApp('metering', ctx.env({ EXPIRY_INTERVAL_MS: '0', CONSUMER_SESSION_TIMEOUT_MS: '6000' }));
    apps.push(app);
    return app;
  };

  beforeAll(async () => {
    ctx = await createTestContext();
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    kafka = createKafka('metering-rebalance-test', [ctx.kafkaBrokers]);
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    redis = createRedis({ url: ctx.redisUrl });
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await producer?.disconnect();
    redis?.disconnect();
    await db?.destroy();
    await ctx?.dispose();
  });

  it(`posts ${EVENTS} events exactly once while instances join and leave`, async () => {
    const orgIds = await seedOrgs(db, 80, 360_000_000n, 3_000_000n);
    const { events, expected } = workload(ctx.topicPrefix, orgIds, EVENTS, 77);
    const third = Math.ceil(events.length / 3);
    const first = await boot();
    await publishAll(producer, events.slice(0, third));
    await expectEventually(async () => expect(await processedCount(db)).toBeGreaterThan(third / 3), 60_000, 20);

    await boot(); // joins the group: partitions move while batches are in flight
    await publishAll(producer, events.slice(third, 2 * third));
    await expectEventually(async () => expect(await processedCount(db)).toBeGreaterThan(third * 1.3), 60_000, 20);

    await first.close(); // leaves: its partitions move to the second instance
    apps.splice(apps.indexOf(first), 1);
    await publishAll(producer, events.slice(2 * third));
    await expectEventually(async () => expect(await processedCount(db)).toBe(events.length), 120_000, 250);
    expect(await postedCosts(db)).toEqual(nonZero(expected));
    const [{ n }] = await db.query('SELECT SUM(event_count)::int AS n FROM usage_rollups');
    expect(n).toBe(events.length);
    await expectEventually(async () => {
      const report = await reconcile(db, redis, new BalanceCache(redis, ctx.redisPrefix));
      expect({ invariant: report.invariant, drift: report.drift.length }).toEqual({ invariant: [], drift: 0 });
    }, 30_000);
  });
});
