import { Topics, topicName } from '@tally/contracts';
import { createDataSource, loadOrgBalances } from '@tally/database';
import { createKafka } from '@tally/kafka';
import { BalanceCache, createRedis, type RedisClient } from '@tally/redis';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { execFileSync } from 'node:child_process';
import { Kafka, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import {
  groupCaughtUp,
  nonZero,
  postedCosts,
  processedCount,
  publishAll,
  seedOrgs,
  verified,
  workload,
} from './metering-harness';
import { appUrl, reconcile, startApp } from './apps';

/**
 * Redis is a cache of PostgreSQL: after FLUSHALL mid-run, and after Redis is down for a while
 * (metering holds its partitions, commits nothing, and resumes by itself), every organization's
 * Redis balance equals PostgreSQL's and reconcile finds zero drift. Uses its own redis-server on
 * a spare port (never the shared one).
 */
const EVENTS = Number(process.env.METERING_REDIS_EVENTS ?? 6_000);

describe('metering: Redis loss', () => {
  jest.setTimeout(300_000);
  const port = 26_000 + Math.floor(Math.random() * 2_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let db: DataSource;
  let kafka: Kafka;
  let producer: Producer;
  let redis: RedisClient;
  let cache: BalanceCache;
  let orgIds: string[];
  const expectedAll = new Map<string, bigint>();

  const startRedis = () =>
    execFileSync('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'yes']);
  const stopRedis = () => {
    try {
      execFileSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore' });
    } catch {
      // already down
    }
  };
  const topics = () =>
    [Topics.actionVerified, Topics.usageSandbox, Topics.usageAgent].map((t) => topicName(ctx.topicPrefix, t));
  const add = (costs: Map<string, bigint>) => {
    for (const [key, value] of costs) expectedAll.set(key, (expectedAll.get(key) ?? 0n) + value);
  };
  /** One agent.run per org, so every org is written after the loss. */
  const touchEveryOrg = async () => {
    await publishAll(
      producer,
      orgIds.map((orgId) => verified(ctx.topicPrefix, orgId, 'agent.run')),
    );
    add(new Map(orgIds.map((orgId) => [`${orgId}|agent`, 1_000n])));
  };
  const expectRedisEqualsPostgres = async () => {
    await expectEventually(
      async () => {
        const truth = await loadOrgBalances(db, orgIds, new Date());
        for (const orgId of orgIds) expect([orgId, await cache.get(orgId)]).toEqual([orgId, truth.get(orgId)]);
      },
      60_000,
      250,
    );
    const report = await reconcile(db, redis, cache);
    expect({ invariant: report.invariant, drift: report.drift, missing: report.missing }).toEqual({
      invariant: [],
      drift: [],
      missing: [],
    });
  };

  beforeAll(async () => {
    startRedis();
    ctx = await createTestContext();
    const redisUrl = `redis://127.0.0.1:${port}`;
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    app = await startApp(
      'metering',
      ctx.env({ REDIS_URL: redisUrl, EXPIRY_INTERVAL_MS: '0', CONSUMER_MAX_BACKOFF_MS: '1000' }),
    );
    kafka = createKafka('metering-redis-test', [ctx.kafkaBrokers]);
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    redis = createRedis({ url: redisUrl });
    cache = new BalanceCache(redis, ctx.redisPrefix);
    orgIds = await seedOrgs(db, 60, 360_000_000n, 5_000_000n);
  });

  afterAll(async () => {
    await app?.close();
    await producer?.disconnect();
    redis?.disconnect();
    stopRedis();
    await db?.destroy();
    await ctx?.dispose();
  });

  it('answers as before after FLUSHALL in the middle of a run; reconcile finds zero drift', async () => {
    const { events, expected } = workload(ctx.topicPrefix, orgIds, EVENTS, 11);
    add(expected);
    const half = Math.floor(events.length / 2);
    await publishAll(producer, events.slice(0, half));
    await expectEventually(async () => expect(await processedCount(db)).toBeGreaterThan(half / 2), 60_000, 20);
    await redis.flushall();
    await publishAll(producer, events.slice(half));
    await touchEveryOrg();
    await expectEventually(
      async () => expect(await processedCount(db)).toBe(events.length + orgIds.length),
      120_000,
      250,
    );
    expect(await postedCosts(db)).toEqual(nonZero(expectedAll));
    await expectRedisEqualsPostgres();
  });

  it('holds its partitions without committing while Redis is down, and resumes by itself', async () => {
    const before = await processedCount(db);
    const { events, expected } = workload(ctx.topicPrefix, orgIds, 2_000, 12);
    add(expected);
    stopRedis();
    await publishAll(producer, events);
    // PostgreSQL may take a batch or so, but no offset moves past it while Redis cannot be written.
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // the outage itself lasts a fixed time
    expect(await groupCaughtUp(kafka, `${ctx.topicPrefix}metering.ledger`, topics())).toBe(false);
    const live = await fetch(`${appUrl(app)}/health/live`);
    expect(live.status).toBe(200);

    startRedis();
    await touchEveryOrg();
    await expectEventually(
      async () => expect(await processedCount(db)).toBe(before + events.length + orgIds.length),
      120_000,
      250,
    );
    await expectEventually(
      async () => expect(await groupCaughtUp(kafka, `${ctx.topicPrefix}metering.ledger`, topics())).toBe(true),
      60_000,
      250,
    );
    expect(await postedCosts(db)).toEqual(nonZero(expectedAll));
    await expectRedisEqualsPostgres();
  });
});
